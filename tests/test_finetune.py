import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sa2sr_core.evaluate import evaluate_splits
from sa2sr_core.finetune import FinetuneConfig, PretrainedModelError, load_emotion_model, scan_emotion_split, \
    train_emotion
from sa2sr_core.metrics import bootstrap_ci, ccc
from sa2sr_core.models.encoder import EncoderConfig
from sa2sr_core.models.regressor import EmotionModelConfig, RegressorConfig
from sa2sr_core.models.sa2sr import SA2SRConfig
from sa2sr_core.pretrain import PretrainConfig, train_sa2sr
from tests.helpers import speech_shards

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
    strip = lambda r: {k: v for k, v in r.items() if k != "frames_per_s"}  # noqa: E731
    assert [strip(r) for r in res["history"]] == [strip(r) for r in full["history"]]


def test_missing_or_incompatible_pretrained_model(emo, tmp_path):
    train, valid, _, pre = emo
    with pytest.raises(PretrainedModelError, match="model.safetensors is missing|config.json is missing"):
        train_emotion(_cfg(), MODEL, train, valid, tmp_path, tmp_path / "nothing", **QUIET)
    wider = EmotionModelConfig(EncoderConfig(hidden=32, layers=1), RegressorConfig(input_dim=64))
    with pytest.raises(PretrainedModelError, match=r"'hidden': \(16, 32\)"):
        train_emotion(_cfg(), wider, train, valid, tmp_path, pre, **QUIET)


def test_scratch_needs_no_pretrained_model(emo, tmp_path):
    train, valid, _, _ = emo
    res = train_emotion(_cfg(init="scratch", max_epochs=1), MODEL, train, valid, tmp_path, None, **QUIET)
    assert res["epochs_run"] == 1


def test_bad_labels_and_short_utterances_are_counted(emo, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shutil

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
