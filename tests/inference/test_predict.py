import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from sa2sr_core.audio import probe_audio
from sa2sr_core.cli import app
from sa2sr_core.config.inference import PredictConfig, SegmentConfig
from sa2sr_core.features.shards import shard_files
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.inference.vad import cut_audio, segment_audio
from sa2sr_core.models.packaged import load_model
from sa2sr_core.models.sa2sr import greedy_decode
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
    df = predict_recordings(model, config, [root / "audio"], _cfg(), **QUIET).files
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


def test_the_progress_bar_ends_at_the_files_total_and_never_passes_it(env, capsys):
    """Frames x hop counts each file's last partial frame whole: summed, that went past the total (tqdm's 'clamping
    frac' warning and a 101% bar); what the VAD leaves out (silence) left it short."""
    import warnings

    root, _, _, model, config = env
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TqdmWarning included
        predict_recordings(model, config, [root / "audio"], PredictConfig(progress=True), **QUIET)
    err = capsys.readouterr().err
    shown = [int(m) for m in re.findall(r"(\d+)%\|", err)]
    assert shown and shown[-1] == 100 and max(shown) == 100, err


def test_utterance_stats_model_gets_the_features_stage_functionals(env, tmp_path):
    """A regressor that reads utterance functionals: predict computes them from the unnormalised LFBE of each
    file exactly as the features stage stored them in the shards."""
    root, split, _, _, _ = env
    model_dir, _, _ = packaged(tmp_path, stats=True)
    model, config = load_model(model_dir)
    assert model.stats_dim == 84
    df = predict_recordings(model, config, [root / "audio"], _cfg(), **QUIET).files
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


SCORE_COLS = ["activation_raw", "valence_raw", "dominance_raw", "p_negative", "p_neutral", "p_positive"]


def _long_recording(root, path, pause_s=1.0, n=6, seed=0):
    """n test utterances with pause_s of quiet room noise before each and after the last; their true spans."""
    rng, parts, spans, t = np.random.default_rng(seed), [], [], 0.0
    for i in range(n):
        x, _ = sf.read(root / "audio" / f"test-{i}.wav", dtype="float32")
        parts += [1e-3 * rng.standard_normal(int(pause_s * 16000)).astype(np.float32), x]
        spans.append((t + pause_s, t + pause_s + len(x) / 16000))
        t += pause_s + len(x) / 16000
    parts.append(1e-3 * rng.standard_normal(int(pause_s * 16000)).astype(np.float32))
    sf.write(path, np.concatenate(parts), 16000, subtype="FLOAT")
    return spans


def test_scores_do_not_depend_on_batching(env, tmp_path):
    """A file's rows, per file and per segment, are the same alone and in mixed batches, whatever the batch size,
    the padded-frame budget, the workers or the order of the files (padding masked everywhere)."""
    root, _, _, model, config = env
    _long_recording(root, tmp_path / "long.wav")
    for i in range(6):
        (tmp_path / f"u{i}.wav").write_bytes((root / "audio" / f"test-{i}.wav").read_bytes())
    files = sorted(tmp_path.glob("*.wav"))
    alone = [predict_recordings(model, config, [f], _cfg(max_batch=1, workers=1), **QUIET) for f in files]
    alone_files = pd.concat([a.files for a in alone], ignore_index=True)
    alone_segs = pd.concat([a.segments for a in alone], ignore_index=True)
    for cfg, order in ((_cfg(), files), (_cfg(max_batch=3, workers=2, max_frames_per_batch=900), files[::-1]),
                       (_cfg(max_batch=64, workers=1), files[3:] + files[:3])):
        mixed = predict_recordings(model, config, order, cfg, **QUIET)
        got = mixed.files.set_index("path").loc[alone_files["path"]]
        np.testing.assert_allclose(got[SCORE_COLS].to_numpy(float), alone_files[SCORE_COLS].to_numpy(float), atol=1e-4)
        assert got["transcript"].tolist() == alone_files["transcript"].tolist()
        segs = mixed.segments.set_index(["path", "segment"]).loc[list(zip(alone_segs["path"], alone_segs["segment"]))]
        np.testing.assert_allclose(segs[SCORE_COLS].to_numpy(float), alone_segs[SCORE_COLS].to_numpy(float),
                                   atol=1e-4)
    assert (alone_segs.groupby("path").size() > 1).any()  # the long file was cut, and its segments compared


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
    df = predict_recordings(model, config, [tmp_path], _cfg(), **QUIET).files
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
    df = predict_recordings(model, config, [tmp_path, tmp_path / "missing.wav"], _cfg(), log=logged.append).files
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


def test_long_file_is_cut_at_pauses_and_combined_by_duration(env, tmp_path):
    root, _, _, model, config = env
    spans = _long_recording(root, tmp_path / "long.wav")
    res = predict_recordings(model, config, [tmp_path / "long.wav"], _cfg(), **QUIET)
    whole, segs = res.files.iloc[0], res.segments
    speech = segs[segs["kind"] == "speech"]
    assert len(speech) == len(spans) and whole["segments"] == len(spans)
    for (a, b), r in zip(spans, speech.itertuples()):  # every cut falls in the pause around its utterance
        assert abs(r.start_s - a) < 0.5 and abs(r.end_s - b) < 0.5
    assert (segs["kind"] == "non-speech").sum() == len(spans) + 1 and segs["activation"][segs["kind"] != "speech"].isna().all()
    assert segs["start_s"].iloc[0] == 0 and segs["end_s"].iloc[-1] == pytest.approx(whole["duration_s"], abs=1e-3)
    assert (segs["start_s"].to_numpy()[1:] == segs["end_s"].to_numpy()[:-1]).all()  # the whole file, no overlap
    assert speech["speech_share"].min() > 0.5 and segs.loc[segs["kind"] == "non-speech", "speech_share"].max() < 0.5
    # each segment scored as a file of its own gives the same numbers; the file's are their weighted mean
    info = probe_audio(tmp_path / "long.wav")
    plan, _ = segment_audio(tmp_path / "long.wav", info, 16000, SegmentConfig())
    out = tmp_path / "pieces"
    out.mkdir()
    for i, x in cut_audio(tmp_path / "long.wav", info, 16000, plan):
        sf.write(out / f"s{i:03d}.wav", x, 16000, subtype="FLOAT")
    each = predict_recordings(model, config, [out], _cfg(), **QUIET).files
    np.testing.assert_allclose(each[SCORE_COLS].to_numpy(float), speech[SCORE_COLS].to_numpy(float), atol=1e-4)
    weights = each["speech_s"].to_numpy()
    for c in SCORE_COLS:
        assert whole[c] == pytest.approx(np.average(each[c].to_numpy(float), weights=weights), abs=1e-4)
    assert whole["duration_s"] == pytest.approx(spans[-1][1] + 1.0, abs=1e-3)


def test_cli_exit_codes_and_csv(env, tmp_path):
    root, _, model_dir, _, _ = env
    runner = CliRunner()
    ok = runner.invoke(app, ["predict", str(root / "audio" / "test-2.wav"), "--model", str(model_dir),
                             "--out", str(tmp_path / "ok.csv"), "--no-progress"])
    assert ok.exit_code == 0, ok.output
    df = pd.read_csv(tmp_path / "ok.csv")
    assert list(df.columns[:5]) == ["path", "status", "duration_s", "segments", "speech_s"]
    assert df["status"].tolist() == ["ok"]
    (tmp_path / "bad.wav").write_bytes(b"")
    bad = runner.invoke(app, ["predict", str(root / "audio" / "test-2.wav"), str(tmp_path / "bad.wav"),
                              "--model", str(model_dir), "--out", str(tmp_path / "b.csv"), "--no-progress"])
    assert bad.exit_code == 1 and "bad.wav" in bad.output
    assert pd.read_csv(tmp_path / "b.csv")["status"].tolist()[0] == "ok"
    nomodel = runner.invoke(app, ["predict", str(root / "audio"), "--model", str(tmp_path / "none"),
                                  "--out", str(tmp_path / "c.csv")])
    assert nomodel.exit_code == 2 and "does not exist" in nomodel.output and not (tmp_path / "c.csv").exists()


def test_cli_segments_and_plots(env, tmp_path):
    root, _, model_dir, _, _ = env
    _long_recording(root, tmp_path / "long.wav")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "long.wav"), str(root / "audio" / "test-1.wav"),
                                   "--model", str(model_dir), "--out", str(tmp_path / "f.csv"), "--segments",
                                   str(tmp_path / "s.jsonl"), "--plots", str(tmp_path / "png"), "--no-progress"])
    assert res.exit_code == 0, res.output
    segs = pd.read_json(tmp_path / "s.jsonl", lines=True)
    assert set(segs["kind"]) == {"speech", "non-speech"} and segs["path"].nunique() == 2
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pngs == ["long.png", "test-1.png"]
    assert (tmp_path / "png" / "long.png").read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(app, ["predict", str(root / "audio" / "test-1.wav"), "--model", str(model_dir),
                                   "--out", str(tmp_path / "g.csv"), "--segments", str(tmp_path / "s.csv"),
                                   "--no-progress"])
    assert list(pd.read_csv(tmp_path / "s.csv").columns[:6]) == ["path", "segment", "start_s", "end_s", "kind",
                                                                 "speech_share"]


@pytest.mark.parametrize("damage", ["config_not_json", "weights_truncated"])
def test_a_damaged_model_directory_is_named_with_exit_2(env, tmp_path, damage):
    import shutil

    root, _, model_dir, _, _ = env
    d = tmp_path / "model"
    shutil.copytree(model_dir, d)
    if damage == "config_not_json":
        (d / "config.json").write_text('{"format": "sa2sr-model/1", "model": ')
        name = "config.json is not valid JSON"
    else:
        w = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(w[: len(w) // 2])
        name = "model.safetensors cannot be read"
    res = CliRunner().invoke(app, ["predict", str(root / "audio" / "test-1.wav"), "--model", str(d), "--out",
                                   str(tmp_path / "x.csv"), "--no-progress"])
    assert res.exit_code == 2 and name in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.csv").exists()
