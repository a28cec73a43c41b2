import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig, SA2SRConfig
from sa2sr_core.config.training import FinetuneConfig, PretrainConfig
from sa2sr_core.evaluation.evaluate import evaluate_splits
from sa2sr_core.metrics import bootstrap_ci, ccc
from sa2sr_core.features.emotion import scan_emotion_split
from sa2sr_core.models.directory import ModelDirError
from sa2sr_core.models.loaders import load_emotion_model
from sa2sr_core.training.finetune import FinetuneTask, train_emotion
from sa2sr_core.training.pretrain import train_sa2sr
from tests.helpers import project_baseline_config, speech_shards

ENC = EncoderConfig(hidden=16, layers=1)
MODEL = EmotionModelConfig(ENC, RegressorConfig(input_dim=32))
QUIET = dict(log=lambda *_: None)


@pytest.fixture(scope="module")
def emo(tmp_path_factory):
    root = tmp_path_factory.mktemp("emo")
    train, labels = speech_shards(root, 8, "train", words=5, avd=True)
    valid, labels_v = speech_shards(root, 4, "validation", seed=1, words=5, avd=True)
    test, _ = speech_shards(root, 4, "test1", seed=2, words=5, avd=True)
    pre = root / "pre"
    import pandas as pd

    train_sa2sr(PretrainConfig(max_epochs=1, max_frames_per_batch=2000), SA2SRConfig(encoder=ENC, summarizer_hidden=8),
                train, valid, pd.concat([labels, labels_v]), pre, **QUIET)
    return train, valid, test, pre


def _cfg(**kw):
    return FinetuneConfig(**{"max_epochs": 2, "max_frames_per_batch": 4000, "seed": 3, **kw})


def test_pretrained_encoder_is_loaded_and_frozen_stays_frozen(emo, tmp_path):
    train, valid, _, pre = emo
    res = train_emotion(_cfg(freeze_encoder=True), MODEL, train, valid, tmp_path, pre, **QUIET)
    assert res["epochs_run"] == 2 and set(res["selected"]) >= {"val_ccc_activation", "val_ccc_valence"}
    want = {k[len("encoder."):]: v for k, v in load_file(pre / "model.safetensors").items() if k.startswith("encoder.")}
    got = load_emotion_model(tmp_path).encoder.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)  # frozen: still the pre-trained weights
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["model"]["regressor"]["heads"] == 4


def test_resume_matches_uninterrupted(emo, tmp_path):
    train, valid, _, pre = emo
    full = train_emotion(_cfg(), MODEL, train, valid, tmp_path / "a", pre, **QUIET)

    def kill(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_emotion(_cfg(), MODEL, train, valid, tmp_path / "b", pre, on_epoch_end=kill, **QUIET)
    res = train_emotion(_cfg(), MODEL, train, valid, tmp_path / "b", pre, **QUIET)
    assert res["history"] == full["history"]  # the history holds no time: equal whole


def test_pretrained_encoder_learns_at_its_own_rate(emo, tmp_path, monkeypatch):
    train, valid, _, pre = emo
    # what is saved is the trained epoch, not the start: whether one epoch beats the start on Development is a
    # matter of selection (tested apart) and of the last bits of the numerics, not of the learning rates
    monkeypatch.setattr(FinetuneTask, "start_candidate", False)
    want = {k[len("encoder."):]: v for k, v in load_file(pre / "model.safetensors").items() if k.startswith("encoder.")}
    head0 = train_emotion(_cfg(max_epochs=1, encoder_lr_scale=0.0), MODEL, train, valid, tmp_path / "a", pre, **QUIET)
    m = load_emotion_model(tmp_path / "a")
    assert all(torch.equal(m.encoder.state_dict()[k], want[k]) for k in want)  # rate 0: the encoder stays put
    first = next(iter(want))
    full = train_emotion(_cfg(max_epochs=1), MODEL, train, valid, tmp_path / "b", pre, **QUIET)
    assert not torch.equal(load_emotion_model(tmp_path / "b").encoder.state_dict()[first], want[first])
    assert head0["history"][0]["lr"] == full["history"][0]["lr"]  # the logged rate is the regressor's
    # a randomly initialised encoder ("No pre-training") always learns at the full rate
    train_emotion(_cfg(max_epochs=1, init="scratch", encoder_lr_scale=0.0), MODEL, train, valid, tmp_path / "c",
                  None, **QUIET)
    torch.manual_seed(3)
    from sa2sr_core.models.regressor import EmotionModel
    init = EmotionModel(MODEL).encoder.state_dict()
    assert not torch.equal(load_emotion_model(tmp_path / "c").encoder.state_dict()[first], init[first])
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="finetune.encoder_lr_scale must be >= 0"):
            _cfg(encoder_lr_scale=bad)


def test_missing_or_incompatible_pretrained_model(emo, tmp_path):
    train, valid, _, pre = emo
    with pytest.raises(ModelDirError, match="does not exist|model.safetensors is missing|config.json is missing"):
        train_emotion(_cfg(), MODEL, train, valid, tmp_path, tmp_path / "nothing", **QUIET)
    wider = EmotionModelConfig(EncoderConfig(hidden=32, layers=1), RegressorConfig(input_dim=64))
    with pytest.raises(ModelDirError, match=r"'hidden': \(16, 32\)"):
        train_emotion(_cfg(), wider, train, valid, tmp_path, pre, **QUIET)


def test_scratch_needs_no_pretrained_model(emo, tmp_path):
    """init scratch: no pre-trained directory is read, the model records none, and its encoder is a fresh random
    one (two seeds give two encoders), not a copy of anything."""
    train, valid, _, _ = emo
    res = train_emotion(_cfg(init="scratch", max_epochs=1), MODEL, train, valid, tmp_path / "a", None, **QUIET)
    assert np.isfinite(res["selected"]["val_ccc_mean"])
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["provenance"]["pretrained_from"] is None and config["provenance"]["finetune"]["init"] == "scratch"
    train_emotion(_cfg(init="scratch", max_epochs=1, seed=5), MODEL, train, valid, tmp_path / "b", None, **QUIET)
    a, b = (load_emotion_model(tmp_path / x).encoder.state_dict() for x in ("a", "b"))
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_bad_labels_and_short_utterances_are_counted(emo, tmp_path):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    train = emo[0]
    d = tmp_path / "split"
    shutil.copytree(train, d)
    path = next(d.glob("shard-*.parquet"))
    t = pq.read_table(path)
    act = t["activation"].to_pylist()
    act[0], act[1] = None, 9.5
    t = t.set_column(t.schema.get_field_index("activation"), "activation", pa.array(act, pa.float32()))
    pq.write_table(t, path)
    data = scan_emotion_split(d, _cfg(), min_frames=10_000)
    assert data.skipped == {"missing_or_nan_label": 1, "label_outside_scale": 1, "too_short_for_regressor": 6}


def test_evaluate_ccc_is_whole_set_and_matches_numpy(emo, tmp_path):
    train, valid, test, pre = emo
    train_emotion(_cfg(max_epochs=1), MODEL, train, valid, tmp_path, pre, **QUIET)
    model = load_emotion_model(tmp_path)
    res, preds = evaluate_splits(model, {"test1": test}, _cfg(), n_boot=200)
    for d in ("activation", "valence", "dominance"):
        t, p = preds[f"true_{d}"].to_numpy(np.float64), preds[f"pred_{d}"].to_numpy(np.float64)
        direct = 2 * np.cov(t, p, bias=True)[0, 1] / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)
        assert res["test1"][d]["ccc"] == pytest.approx(direct, abs=1e-6)
        lo, hi = res["test1"][d]["ci95"]
        assert lo <= hi
    assert res["test1"]["n"] == 4 and len(preds) == 4


def test_bootstrap_ci_covers_the_estimate():
    rng = np.random.default_rng(0)
    t = rng.normal(size=300)
    p = t + rng.normal(scale=0.5, size=300)
    lo, hi = bootstrap_ci(t, p, ccc, n=500)
    assert lo < ccc(t, p) < hi and hi - lo < 0.2


def test_stops_by_patience_and_lowers_the_rate_on_plateaus(emo, tmp_path):
    train, valid, _, pre = emo
    res = train_emotion(_cfg(max_epochs=30, patience=2, lr_plateau_patience=1, lr_decay=0.5, lr=1e-2), MODEL,
                        train, valid, tmp_path, pre, **QUIET)
    h = res["history"]
    assert res["stopped_by"] == "patience" and len(h) < 30
    best = max(r["val_ccc_mean"] for r in h)
    assert res["selected"]["val_ccc_mean"] == best
    assert all(r["val_ccc_mean"] <= best for r in h[-2:]) and len(h) - res["selected"]["epoch"] == 2
    running_best = -np.inf
    for prev, cur in zip(h, h[1:]):  # each epoch without improvement halves the next epoch's rate
        running_best = max(running_best, prev["val_ccc_mean"])
        improved = prev["val_ccc_mean"] >= running_best
        assert prev["lr_next"] == pytest.approx(prev["lr"] * (1.0 if improved else 0.5))
        assert cur["lr"] == pytest.approx(prev["lr_next"])
    assert h[-1]["lr"] < h[0]["lr"]


def test_utterance_stats_model_trains_and_evaluates(emo, tmp_path):
    train, valid, test, pre = emo
    model = EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84))
    res = train_emotion(_cfg(max_epochs=2), model, train, valid, tmp_path, pre, baseline_cfg=project_baseline_config(),
                        **QUIET)
    assert res["epochs_run"] == 2
    m = load_emotion_model(tmp_path)
    assert m.cfg.regressor.stats_dim == 84 and float(m.regressor.stats_std.min()) > 0
    assert float(m.regressor.stats_mean[:40].mean()) > 5  # standardised with the training set's log energies
    out, preds = evaluate_splits(m, {"test1": test}, _cfg(), n_boot=50)
    assert out["test1"]["n"] == 4 and np.isfinite(preds["pred_activation"]).all()


def test_stats_model_starts_from_the_ridge_baseline(emo):
    """Before any update, the regressor with utterance stats predicts exactly what the baseline stage's ridge
    (fitted on Train, regulariser chosen on Development) predicts."""
    from sa2sr_core.evaluation.baseline import load_split
    from sa2sr_core.features.emotion import make_emotion_dataset
    from sa2sr_core.models.classical import fit_ridge
    from sa2sr_core.models.regressor import EmotionModel
    from sa2sr_core.models.run import predict_split
    from sa2sr_core.training.finetune import start_from_baseline

    train, valid, test, _ = emo
    model = EmotionModel(EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84)))
    cfg, mf = _cfg(), model.min_frames()
    dev_ccc = start_from_baseline(model, scan_emotion_split(train, cfg, mf), scan_emotion_split(valid, cfg, mf),
                                  project_baseline_config(), log=lambda *_: None)
    base = fit_ridge(load_split(train, cfg, mf), load_split(valid, cfg, mf), project_baseline_config())
    assert dev_ccc == base.dev_ccc
    te = load_split(test, cfg, mf)
    ids, preds, _ = predict_split(model, make_emotion_dataset(test, scan_emotion_split(test, cfg, mf), cfg, True), "cpu")
    want = base.predict(te.x)[[te.ids.index(u) for u in ids]]
    np.testing.assert_allclose(preds, want, atol=1e-4)


def test_set_up_reads_each_training_shard_once(emo, monkeypatch):
    """Task, usable utterances, the ridge start and the functionals' standardisation all come from one read of the
    training shards' labels and functionals; the feature sequences are read by the epochs, not before."""
    import pyarrow.parquet as pq

    from sa2sr_core.training.finetune import FinetuneTask

    train, valid, _, pre = emo
    reads, real = [], pq.read_table
    monkeypatch.setattr(pq, "read_table", lambda path, *a, **k: reads.append(str(path)) or real(path, *a, **k))
    model_cfg = EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84))
    task = FinetuneTask(_cfg(), model_cfg, train, valid, pre, baseline_cfg=project_baseline_config())
    task.setup(torch.device("cpu"), 1, lambda *_: None)
    shards = sorted(str(p) for p in train.glob("shard-*.parquet"))
    assert shards and sorted(r for r in reads if r.startswith(str(train))) == shards
    assert task.task == "dimensions"
