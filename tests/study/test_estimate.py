from pathlib import Path

import pytest

from sa2sr_core.study.estimate import ASSUMED_MFU, H100_BF16_PEAK_FLOPS, estimate_pretraining, train_hours

PROJECT = Path(__file__).resolve().parents[2]


def test_train_hours_follow_the_reader_subsets():
    assert train_hours(None, ["train-clean-100", "dev-clean"]) == (100.6, "LibriSpeech train-clean-100")
    assert train_hours(None)[1] == "the paper's LibriSpeech 960 h"


def test_ssl_estimate_measures_and_projects_to_h100():
    logs = []
    over = {"pretrain.encoder.kind": "ssl", "pretrain.max_frames_per_batch": 600, "pretrain.max_batch": 4,
            "pretrain.patience": 4, "pretrain.max_epochs": 2, "pretrain.device": "cpu",
            "readers.librispeech": {"subsets": ["train-clean-100", "dev-clean", "test-clean"]}}
    out = estimate_pretraining(PROJECT, {}, over, "test", log=logs.append, max_seconds=1.0)
    assert out["encoder"] == "ssl random-tiny (wavlm 2x64, RANDOM WEIGHTS)"
    assert out["train_hours"] == 100.6 and out["min_epochs"] == 2 and out["audio_s_per_s"] > 0
    p = out["h100_projection"]
    flops = p["training_gflops_per_audio_s"] * 1e9
    assert flops > 0 and "not a measurement" in p["note"]
    assert p["hours_per_epoch"] == pytest.approx(flops * 100.6 * 3 / (H100_BF16_PEAK_FLOPS * ASSUMED_MFU), rel=0.01)
    assert any("projection for one H100 (not a measurement)" in m for m in logs)
