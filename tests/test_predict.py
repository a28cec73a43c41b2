import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from sa2sr_core.bundle import load_model
from sa2sr_core.cli import app
from sa2sr_core.models.sa2sr import greedy_decode
from sa2sr_core.predict import PredictConfig, iter_windows, predict_files
from sa2sr_core.shards import shard_files
from sa2sr_core.vocab import decode
from tests.helpers import speech_shards
from tests.model_dirs import packaged

QUIET = dict(log=lambda *_: None)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    split, _ = speech_shards(root, 6, "test", words=6)
    model_dir, _, _ = packaged(root)
    model, config = load_model(model_dir)
    return root, split, model_dir, model, config


def _cfg(**kw):
    return PredictConfig(progress=False, **kw)


def test_predictions_equal_the_model_on_pipeline_features(env):
    root, split, _, model, config = env
    df = predict_files(model, config, [root / "audio"], _cfg(), **QUIET)
    assert (df["status"] == "ok").all() and len(df) == 6
    rows = [r for f in shard_files(split) for r in pq.read_table(f).to_pylist()]
    for r in rows:  # the features stage's LFBE for the same wav, through the model directly
        feats = torch.tensor(np.array(r["lfbe"], np.float32))[None]
        with torch.no_grad():
            avd, probs, lp, n = model(feats, torch.tensor([feats.shape[1]]))
        got = df[df["path"].str.endswith(f"test-{int(r['utt_id'].split('-')[1])}.wav")].iloc[0]
        raw = got[["activation_raw", "valence_raw", "dominance_raw"]].to_numpy(float)
        np.testing.assert_allclose(raw, avd[0].numpy(), atol=1e-4)
        # reported values are clipped into the corpus scale (1-7); this untrained model lands outside it
        np.testing.assert_allclose(got[["activation", "valence", "dominance"]].to_numpy(float), np.clip(raw, 1, 7))
        np.testing.assert_allclose(got[["p_negative", "p_neutral", "p_positive"]].to_numpy(float), probs[0].numpy(),
                                   atol=1e-5)
        assert got["transcript"] == decode(greedy_decode(lp, n)[0]) or pd.isna(got["transcript"])
        assert got["duration_s"] == pytest.approx(r["num_frames"] / 100, abs=0.03)


def test_utterance_stats_model_gets_the_features_stage_functionals(env, tmp_path):
    """A regressor that reads utterance functionals: predict computes them from the unnormalised LFBE of each
    file exactly as the features stage stored them in the shards."""
    root, split, _, _, _ = env
    model_dir, _, _ = packaged(tmp_path, stats=True)
    model, config = load_model(model_dir)
    assert model.stats_dim == 84
    df = predict_files(model, config, [root / "audio"], _cfg(), **QUIET)
    assert (df["status"] == "ok").all()
    for r in (r for f in shard_files(split) for r in pq.read_table(f).to_pylist()):
        feats = torch.tensor(np.array(r["lfbe"], np.float32))[None]
        with torch.no_grad():
            avd = model(feats, torch.tensor([feats.shape[1]]), torch.tensor([r["utt_stats"]], dtype=torch.float32))[0]
        got = df[df["path"].str.endswith(f"test-{int(r['utt_id'].split('-')[1])}.wav")].iloc[0]
        np.testing.assert_allclose(got[["activation_raw", "valence_raw", "dominance_raw"]].to_numpy(float),
                                   avd[0].numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="utterance stats"):
        model(feats, torch.tensor([feats.shape[1]]))


def test_batched_equals_one_file_at_a_time(env):
    root, _, _, model, config = env
    a = predict_files(model, config, [root / "audio"], _cfg(), **QUIET)
    b = predict_files(model, config, [root / "audio"], _cfg(max_batch=1, workers=1), **QUIET)
    cols = ["activation", "valence", "dominance", "p_negative", "p_neutral", "p_positive"]
    np.testing.assert_allclose(a[cols].to_numpy(float), b[cols].to_numpy(float), atol=1e-5)
    assert a["path"].tolist() == b["path"].tolist()


def test_any_rate_channels_and_format(env, tmp_path):
    root, _, _, model, config = env
    x, sr = sf.read(root / "audio" / "test-0.wav", dtype="float32")
    import soxr

    y = soxr.resample(x, sr, 44100)
    sf.write(tmp_path / "mono44.wav", y, 44100)
    sf.write(tmp_path / "stereo44.wav", np.stack([y, y], 1), 44100)
    sf.write(tmp_path / "a.flac", y, 44100)
    sf.write(tmp_path / "a.mp3", y, 44100, format="MP3")
    sf.write(tmp_path / "a.ogg", y, 44100, format="OGG")
    df = predict_files(model, config, [tmp_path], _cfg(), **QUIET)
    df.index = [p.split("/")[-1] for p in df["path"]]
    assert (df["status"] == "ok").all() and len(df) == 5
    cols = ["activation", "valence", "dominance"]
    np.testing.assert_allclose(df.loc["stereo44.wav", cols].to_numpy(float), df.loc["mono44.wav", cols].to_numpy(float),
                               atol=1e-4)  # the down-mix of identical channels is the channel
    assert df["duration_s"].max() - df["duration_s"].min() < 0.1  # mp3 / ogg padding aside, same length


def test_bad_files_are_named_and_good_files_still_scored(env, tmp_path):
    root, _, _, model, config = env
    good = (root / "audio" / "test-1.wav").read_bytes()
    (tmp_path / "good.wav").write_bytes(good)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "corrupt.flac").write_bytes(b"fLaC" + b"\x00garbage" * 50)
    (tmp_path / "truncated.wav").write_bytes(good[: len(good) // 2])
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "tiny.wav", 0.1 * np.random.default_rng(0).standard_normal(1600).astype(np.float32), 16000)
    logged = []
    df = predict_files(model, config, [tmp_path, tmp_path / "missing.wav"], _cfg(), log=logged.append)
    status = {p.split("/")[-1]: s for p, s in zip(df["path"], df["status"])}
    assert status["good.wav"] == "ok"
    assert status["empty.wav"].startswith("error: file is empty")
    assert status["corrupt.flac"].startswith("error: not a readable audio file")
    assert status["truncated.wav"].startswith("error: truncated")
    assert status["silent.wav"].startswith("error: silent")
    assert status["tiny.wav"].startswith("error: too short")
    assert status["missing.wav"] == "error: no such file or directory"
    assert len(logged) == 6 and all(any(n in m for n in status) for m in logged)
    assert df.loc[df["status"] != "ok", "activation"].isna().all()
    assert not df.loc[df["status"] == "ok", "activation"].isna().any()


def test_long_file_is_windowed_and_combined_by_duration(env, tmp_path):
    root, _, _, model, config = env
    rng = np.random.default_rng(0)
    parts = []
    for i in range(6):
        x, _ = sf.read(root / "audio" / f"test-{i}.wav", dtype="float32")
        parts += [x, 1e-3 * rng.standard_normal(8000).astype(np.float32)]  # half-second pauses with room noise
    long = np.concatenate(parts)
    sf.write(tmp_path / "long.wav", long, 16000)
    cfg = _cfg(window_s=4.0, search_s=1.0)
    windows = list(iter_windows(tmp_path / "long.wav", 16000, 4.0, 1.0, block_s=1.5))
    assert len(windows) > 2 and sum(map(len, windows)) == len(long)  # streamed, nothing lost or repeated
    assert all(len(w) <= 5 * 16000 for w in windows[:-2])
    out = tmp_path / "w"
    out.mkdir()
    for i, w in enumerate(windows):
        sf.write(out / f"w{i:02d}.wav", w, 16000, subtype="FLOAT")
    whole = predict_files(model, config, [tmp_path / "long.wav"], cfg, **QUIET).iloc[0]
    each = predict_files(model, config, [out], cfg, **QUIET)
    assert whole["windows"] == len(windows)
    weights = each["duration_s"].to_numpy()
    for c in ("activation_raw", "valence_raw", "dominance_raw", "p_positive"):
        assert whole[c] == pytest.approx(np.average(each[c].to_numpy(float), weights=weights), abs=1e-3)
    assert whole["duration_s"] == pytest.approx(len(long) / 16000, abs=1e-3)


def test_cli_exit_codes_and_csv(env, tmp_path):
    root, _, model_dir, _, _ = env
    runner = CliRunner()
    ok = runner.invoke(app, ["predict", str(root / "audio" / "test-2.wav"), "--model", str(model_dir),
                             "--out", str(tmp_path / "ok.csv"), "--no-progress"])
    assert ok.exit_code == 0, ok.output
    df = pd.read_csv(tmp_path / "ok.csv")
    assert list(df.columns[:4]) == ["path", "status", "duration_s", "windows"] and df["status"].tolist() == ["ok"]
    (tmp_path / "bad.wav").write_bytes(b"")
    bad = runner.invoke(app, ["predict", str(root / "audio" / "test-2.wav"), str(tmp_path / "bad.wav"),
                              "--model", str(model_dir), "--out", str(tmp_path / "b.csv"), "--no-progress"])
    assert bad.exit_code == 1 and "bad.wav" in bad.output
    assert pd.read_csv(tmp_path / "b.csv")["status"].tolist()[0] == "ok"
    nomodel = runner.invoke(app, ["predict", str(root / "audio"), "--model", str(tmp_path / "none"),
                                  "--out", str(tmp_path / "c.csv")])
    assert nomodel.exit_code == 2 and "does not exist" in nomodel.output and not (tmp_path / "c.csv").exists()
