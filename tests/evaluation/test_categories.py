"""Categories beside dimensions: the categorical head learning emotion classes (alone and jointly with A/V/D) from espeak speech whose class follows
its speaking rate."""

import numpy as np
import pytest
import torch

from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig
from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.corpora.finetuning import AUTO_DIMENSIONS, AUTO_LABELS
from sa2sr_core.evaluation.evaluate import evaluate_splits, plot_confusion
from sa2sr_core.features.emotion import read_split, scan_emotion_split, task_and_classes, train_labels
from sa2sr_core.models.loaders import load_emotion_model
from sa2sr_core.models.regressor import EmotionRegressor, split_outputs
from sa2sr_core.training.finetune import train_emotion
from tests.helpers import speech_shards

ENC = EncoderConfig(hidden=16, layers=1)
QUIET = dict(log=lambda *_: None)


def test_a_class_head_adds_logits_after_the_dimensions():
    cfg = RegressorConfig(input_dim=8, channels=8, heads=2, classes=("a", "b", "c"))
    out = EmotionRegressor(cfg)(torch.randn(2, 30, 8), torch.tensor([30, 20]))
    avd, logits = split_outputs(out)
    assert out.shape == (2, 6) and avd.shape == (2, 3) and logits.shape == (2, 3)
    assert EmotionRegressor(RegressorConfig(input_dim=8, channels=8, heads=2))(torch.randn(2, 30, 8),
                                                                             torch.tensor([30, 20])).shape == (2, 3)


@pytest.fixture(scope="module")
def classes_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cats")
    train, _ = speech_shards(root, 16, "train", words=5, avd=True, categories=True)
    test, _ = speech_shards(root, 6, "test1", seed=2, words=5, avd=True, categories=True)
    return train, test


def _cfg(**kw):
    return FinetuneConfig(**{"max_epochs": 12, "patience": 12, "lr": 3e-3, "max_frames_per_batch": 4000, "seed": 3,
                             "init": "scratch", "min_delta": 0.0, **kw})


def test_the_class_head_learns_the_classes_of_its_training_set(classes_data, tmp_path):
    train, test = classes_data
    assert train_labels(train) == train_labels(read_split(train)) == (True, ("fast", "slow"))
    assert task_and_classes("auto", AUTO_LABELS, train) == ("both", ("fast", "slow"))
    assert task_and_classes("auto", AUTO_DIMENSIONS, train) == ("dimensions", ())
    model_cfg = EmotionModelConfig(ENC, RegressorConfig(input_dim=32))
    res = train_emotion(_cfg(task="categories"), model_cfg, train, train, tmp_path, None, **QUIET)  # overfit
    first, best = res["history"][0]["val_ua"], res["selected"]["val_ua"]
    assert res["task"] == "categories" and res["classes"] == ["fast", "slow"]
    assert best >= 0.9 and best > first, (first, best)
    model = load_emotion_model(tmp_path)
    assert model.cfg.regressor.classes == ("fast", "slow") and not model.cfg.regressor.dimensions
    results, preds = evaluate_splits(model, {"test1": test}, _cfg(task="categories"), n_boot=100)
    cats = results["test1"]["categories"]
    assert set(cats) >= {"ua", "wa", "macro_f1", "confusion", "per_class_recall"} and cats["n"] == 6
    assert "mean" not in results["test1"]  # no A/V/D scores from a model that never learnt them
    assert {"category", "pred_category", "p_class_fast", "p_class_slow"} <= set(preds) and "pred_activation" not in preds
    plot_confusion(results, tmp_path / "confusion.png", "test")
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_dimensions_and_categories_train_jointly(classes_data, tmp_path):
    train, _ = classes_data
    res = train_emotion(_cfg(task="both", max_epochs=3, class_balanced=True), EmotionModelConfig(ENC,
                        RegressorConfig(input_dim=32)), train, train, tmp_path, None, **QUIET)
    row = res["selected"]
    assert {"val_ccc_mean", "val_ua", "val_score"} <= set(row) and "train_loss_ce" in row and "train_loss_ccc" in row
    assert row["val_score"] == pytest.approx((row["val_ccc_mean"] + row["val_ua"]) / 2)
    model = load_emotion_model(tmp_path)
    assert model.cfg.regressor.dimensions and model.cfg.regressor.classes == ("fast", "slow")


def test_a_category_unseen_in_training_is_skipped_and_counted(classes_data):
    train, test = classes_data
    data = scan_emotion_split(test, FinetuneConfig(), 1, "categories", ("fast",))
    assert data.skipped["category_not_in_train"] > 0 and set(data.category.values()) == {0}


def test_predict_serve_and_export_give_the_class_and_its_probabilities(tmp_path):
    import httpx
    import pandas as pd
    import soundfile as sf
    from typer.testing import CliRunner

    from sa2sr_core.cli import app
    from sa2sr_core.config.inference import SegmentConfig, ServeConfig
    from sa2sr_core.inference.export import example_inputs, export_model, run_exported
    from sa2sr_core.inference.serve import Service, create_app
    from sa2sr_core.models.packaged import load_model
    from tests.model_dirs import packaged
    from tests.inference.test_serve import Running

    classes = ("angry", "neutral", "sad")
    model_dir, _, _ = packaged(tmp_path / "m", stats=True, classes=classes)
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    wav = tmp_path / "a.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
                   + 0.01 * rng.standard_normal(len(t))).astype(np.float32), 16000)
    out, seg = tmp_path / "p.csv", tmp_path / "s.csv"
    res = CliRunner().invoke(app, ["predict", str(wav), "--model", str(model_dir), "--out", str(out), "--segments",
                                   str(seg), "--vad", "energy", "--no-progress"])
    assert res.exit_code == 0, res.output
    cols = [f"p_class_{c}" for c in classes]
    for df in (pd.read_csv(out), pd.read_csv(seg)):
        assert set(cols) <= set(df) and df[cols].sum(axis=1).round(5).eq(1.0).all()
        assert (df["category"] == [classes[i] for i in df[cols].to_numpy().argmax(1)]).all()
        assert {"p_negative", "p_neutral", "p_positive"} <= set(df)  # the text sentiment's, apart from the classes
    card = (model_dir / "README.md").read_text()
    assert "Emotion classes (3): angry, neutral, sad" in card
    model, config = load_model(model_dir)
    assert model.output_names[-1] == "class_probs"
    diff = export_model(model, "onnx", tmp_path / "m.onnx")
    assert set(diff) == set(model.output_names) and diff["class_probs"] < 1e-4
    got = run_exported(tmp_path / "m.onnx", "onnx", *example_inputs(model, [model.min_frames() + 50]))
    assert got[-1].shape == (1, 3) and np.allclose(got[-1].sum(1), 1.0, atol=1e-5)
    with Running(create_app(Service(model, config, str(model_dir), ServeConfig(), SegmentConfig(vad="energy")))) as base:
        with open(wav, "rb") as f:
            r = httpx.post(f"{base}/predict", files={"file": ("a.wav", f)}, timeout=60)
    body = r.json()
    assert r.status_code == 200 and body["file"]["category"] in classes
    assert body["file"]["category"] == pd.read_csv(out)["category"][0]
    assert abs(body["file"]["p_class_sad"] - pd.read_csv(out)["p_class_sad"][0]) < 1e-5
