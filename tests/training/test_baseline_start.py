"""Every head starts at its classical baseline and that start stays a candidate of Development selection: a class
head with side inputs starts at the logistic regression (as the A/V/D outputs start at the ridge), and a run that
never beats its start keeps it (epoch 0)."""

import numpy as np
import pytest
import torch

from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig
from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.corpora.finetuning import AUTO_LABELS
from sa2sr_core.features.emotion import read_split, scan_emotion_split
from sa2sr_core.models.classical import class_data, fit_logistic
from sa2sr_core.models.loaders import load_emotion_model
from sa2sr_core.models.run import predict_split
from sa2sr_core.features.emotion import make_emotion_dataset
from sa2sr_core.metrics import softmax
from sa2sr_core.training.finetune import train_emotion
from tests.helpers import project_baseline_config, speech_shards

ENC = EncoderConfig(hidden=16, layers=1)
QUIET = dict(log=lambda *_: None)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("start")
    train, _ = speech_shards(root, 16, "train", words=5, categories=True)
    valid, _ = speech_shards(root, 8, "validation", seed=1, words=5, categories=True)
    return train, valid


def _cfg(**kw):
    return FinetuneConfig(**{"max_epochs": 2, "patience": 2, "max_frames_per_batch": 4000, "seed": 3,
                             "init": "scratch", "task": "categories", **kw})


def test_the_class_head_starts_at_the_logistic_baseline_and_keeps_it_when_nothing_beats_it(data, tmp_path):
    train, valid = data
    model_cfg = EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84))
    logs = []
    res = train_emotion(_cfg(lr=0.0), model_cfg, train, valid, tmp_path, None, baseline_cfg=project_baseline_config(),
                        auto_task=AUTO_LABELS, log=logs.append)
    assert any("class head starts from the logistic baseline" in m for m in logs)
    assert res["start"]["epoch"] == 0 and res["selected"]["epoch"] == 0  # lr 0: no epoch beats the start
    model = load_emotion_model(tmp_path)
    assert model.cfg.regressor.class_linear
    # the kept model's class probabilities are the logistic regression's, utterance by utterance
    cfg = _cfg()
    scans = {s: scan_emotion_split(read_split(d), cfg, model.min_frames(), "categories", ("fast", "slow"))
             for s, d in (("train", train), ("validation", valid))}
    base = fit_logistic(class_data(scans["train"]), class_data(scans["validation"]), project_baseline_config(),
                        ("fast", "slow"))
    ids, out, _, _ = predict_split(model, make_emotion_dataset(valid, scans["validation"], cfg, True), "cpu",
                                   with_categories=True)
    want = base.predict_proba(class_data(scans["validation"]).x)
    order = [class_data(scans["validation"]).ids.index(u) for u in ids]
    np.testing.assert_allclose(softmax(out[:, 3:]), want[order], atol=1e-4)
    assert res["selected"]["val_ua"] == pytest.approx(base.dev_ua)


def test_training_that_beats_the_start_is_selected_and_the_switch_turns_the_start_off(data, tmp_path):
    train, valid = data
    model_cfg = EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84))
    res = train_emotion(_cfg(lr=3e-3, max_epochs=3, patience=3, min_delta=-1.0), model_cfg, train, valid, tmp_path / "a",
                        None, baseline_cfg=project_baseline_config(), auto_task=AUTO_LABELS, **QUIET)
    assert res["selected"]["epoch"] == 3  # min_delta -1: every epoch counts as better than the one before
    off = train_emotion(_cfg(class_baseline_start=False), model_cfg, train, valid, tmp_path / "b", None,
                        baseline_cfg=project_baseline_config(), auto_task=AUTO_LABELS, **QUIET)
    assert not load_emotion_model(tmp_path / "b").cfg.regressor.class_linear and off["start"]["epoch"] == 0


def test_the_logistic_linear_map_in_another_standardisation_gives_its_probabilities():
    from sa2sr_core.config.baseline import BaselineConfig
    from sa2sr_core.models.classical import ClassData

    rng = np.random.default_rng(0)
    for n_classes in (2, 3):
        x = rng.normal(5, 2, (60, 4))
        c = (x[:, 0] + rng.normal(0, 1, 60) > 5).astype(int) + (n_classes == 3) * (x[:, 1] > 6)
        classes = tuple("abc"[:n_classes])
        base = fit_logistic(ClassData([str(i) for i in range(60)], x, c), ClassData([str(i) for i in range(60)], x, c),
                            BaselineConfig([1.0]), classes)
        mean, std = x.mean(0) + 1.0, x.std(0) * 2  # not the scaler's own
        w, b = base.linear(mean, std)
        z = (x - mean) / std
        np.testing.assert_allclose(softmax(z @ w.T + b), base.predict_proba(x), atol=1e-8)


def test_a_resumed_run_still_knows_its_start(data, tmp_path):
    train, valid = data
    model_cfg = EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84))
    full = train_emotion(_cfg(max_epochs=2), model_cfg, train, valid, tmp_path / "a", None,
                         baseline_cfg=project_baseline_config(), auto_task=AUTO_LABELS, **QUIET)

    def stop(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_emotion(_cfg(max_epochs=2), model_cfg, train, valid, tmp_path / "b", None,
                      baseline_cfg=project_baseline_config(), auto_task=AUTO_LABELS, on_epoch_end=stop, **QUIET)
    resumed = train_emotion(_cfg(max_epochs=2), model_cfg, train, valid, tmp_path / "b", None,
                            baseline_cfg=project_baseline_config(), auto_task=AUTO_LABELS, **QUIET)
    assert resumed["start"] == full["start"] and resumed["start"]["epoch"] == 0
    assert resumed["selected"] == full["selected"]  # the history holds no time: equal whole
