"""Every CUDA path once (scripts/gpu_check.sh runs these on a GPU machine; CI has none, so they skip there).

SA2SR_TEST_DEVICE=cpu runs the same checks on the CPU (device vs CPU comparisons then compare the CPU with
itself), which keeps the test code itself exercised where no GPU is."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sa2sr_core.config.inference import PredictConfig
from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig, SA2SRConfig
from sa2sr_core.config.training import FinetuneConfig, PretrainConfig
from sa2sr_core.evaluation.evaluate import evaluate_splits
from sa2sr_core.inference.export import export_model
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.models.loaders import load_emotion_model
from sa2sr_core.models.packaged import load_model, package_model
from sa2sr_core.models.sa2sr import SA2SR
from sa2sr_core.training.finetune import train_emotion
from sa2sr_core.training.pretrain import train_sa2sr
from tests.helpers import project_baseline_config, speech_shards
from tests.model_dirs import FEATURES

DEVICE = os.environ.get("SA2SR_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="no CUDA device")
ENC = EncoderConfig(hidden=32, layers=2)
QUIET = dict(log=lambda *_: None)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Pre-training (fp32) and fine-tuning with utterance stats, both on DEVICE."""
    root = tmp_path_factory.mktemp("gpu")
    train, lab_t = speech_shards(root, 8, "train", words=5, avd=True)
    valid, lab_v = speech_shards(root, 4, "validation", seed=1, words=5, avd=True)
    test, _ = speech_shards(root, 4, "test1", seed=2, words=5, avd=True)
    labels = pd.concat([lab_t, lab_v])
    pcfg = PretrainConfig(lr=3e-3, max_epochs=2, max_frames_per_batch=3000, device=DEVICE)
    pre = train_sa2sr(pcfg, SA2SRConfig(encoder=ENC, summarizer_hidden=8), train, valid, labels, root / "pretrain",
                      FEATURES, **QUIET)
    fcfg = FinetuneConfig(max_epochs=2, max_frames_per_batch=4000, device=DEVICE)
    ft = train_emotion(fcfg, EmotionModelConfig(ENC, RegressorConfig(input_dim=64, stats_dim=84)), train, valid,
                       root / "finetune", root / "pretrain", FEATURES, baseline_cfg=project_baseline_config(), **QUIET)
    return root, train, valid, test, labels, pre, ft


def test_pretraining_on_the_device_and_its_weights_on_the_cpu(run):
    root, *_ , pre, _ = run
    assert all(np.isfinite(r["train_loss"]) for r in pre["history"])
    live = pre["model"]  # still on the device
    assert next(live.parameters()).device.type == torch.device(DEVICE).type
    from safetensors.torch import load_file

    cpu = SA2SR(SA2SRConfig(encoder=ENC, summarizer_hidden=8))
    cpu.load_state_dict(load_file(root / "pretrain" / "model.safetensors"))
    x, n = torch.randn(3, 150, 40), torch.tensor([150, 90, 40])
    with torch.no_grad():
        a, _ = live.eval()(x.to(DEVICE), n.to(DEVICE))
        b, _ = cpu.eval()(x, n)  # reversal path on the CPU, fused on CUDA: the same function
    for k in ("ctc_log_probs", "sentiment_logits"):
        got, want = a[k].cpu(), b[k]
        if k == "ctc_log_probs":
            got, want = got[1, :44], want[1, :44]
        torch.testing.assert_close(got, want, atol=2e-4, rtol=1e-3)


def test_bf16_pretraining_runs_with_fp32_losses(run, tmp_path):
    _, train, valid, _, labels, _, _ = run
    res = train_sa2sr(PretrainConfig(lr=3e-3, max_epochs=1, max_frames_per_batch=3000, device=DEVICE, amp=True),
                      SA2SRConfig(encoder=ENC, summarizer_hidden=8), train, valid, labels, tmp_path, **QUIET)
    assert np.isfinite(res["history"][0]["train_loss"]) and 0 <= res["history"][0]["cer"] <= 1.5


def test_finetuning_and_evaluation_on_the_device_match_the_cpu(run):
    root, _, _, test, _, _, ft = run
    assert ft["epochs_run"] == 2
    cfg = FinetuneConfig()
    on_dev, p_dev = evaluate_splits(load_emotion_model(root / "finetune", DEVICE), {"test1": test}, cfg, DEVICE, 50)
    on_cpu, p_cpu = evaluate_splits(load_emotion_model(root / "finetune"), {"test1": test}, cfg, "cpu", 50)
    np.testing.assert_allclose(p_dev["pred_activation"], p_cpu["pred_activation"], atol=1e-3)
    assert abs(on_dev["test1"]["mean"]["ccc"] - on_cpu["test1"]["mean"]["ccc"]) < 1e-3


def test_predict_on_the_device_matches_the_cpu_and_export_of_a_device_trained_model(run):
    root = run[0]
    package_model(root / "pretrain", root / "finetune", root / "sa2sr", {})
    rows = {}
    for dev in (DEVICE, "cpu"):
        model, config = load_model(root / "sa2sr", dev)
        rows[dev] = predict_recordings(model, config, [root / "audio"], PredictConfig(progress=False, device=dev),
                                  torch.device(dev), **QUIET).files
    cols = ["activation_raw", "valence_raw", "dominance_raw", "p_negative", "p_neutral", "p_positive"]
    np.testing.assert_allclose(rows[DEVICE][cols].to_numpy(float), rows["cpu"][cols].to_numpy(float), atol=1e-3)
    assert (rows[DEVICE]["transcript"].fillna("") == rows["cpu"]["transcript"].fillna("")).mean() >= 0.9
    model, _ = load_model(root / "sa2sr")
    diff = export_model(model, "onnx", root / "m.onnx")
    assert max(diff.values()) < 1e-4


@pytest.mark.slow
def test_torchrun_one_process(run, tmp_path):
    _, train, valid, _, labels, _, _ = run
    labels.to_parquet(tmp_path / "labels.parquet")
    backend = "nccl" if DEVICE == "cuda" else "gloo"
    worker = Path(__file__).with_name("ddp_worker.py")
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "--master_port",
                          "29541", str(worker), str(train), str(valid), str(tmp_path / "labels.parquet"),
                          str(tmp_path / "out"), backend, DEVICE], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "rank0.json").read_text())["world"] == 1


def test_ssl_encoder_trains_in_bf16_and_matches_the_cpu(tmp_path):
    """The self-supervised encoder on the device: pre-training with bf16 autocast (the ssl profile's setting) stays
    finite, and the trained encoder's fp32 output on the device matches the CPU's."""
    from sa2sr_core.config.features import FeatureConfig
    from sa2sr_core.config.models import SSLConfig

    wave = FeatureConfig(kind="waveform")
    train, lab_t = speech_shards(tmp_path, 6, "train", words=4, fbank=wave)
    valid, lab_v = speech_shards(tmp_path, 3, "validation", seed=1, words=4, fbank=wave)
    enc = EncoderConfig(kind="ssl", input_dim=160, ssl=SSLConfig(mask_time_prob=0.0))
    cfg = PretrainConfig(lr=3e-3, max_epochs=2, max_frames_per_batch=3000, amp=True, device=DEVICE)
    res = train_sa2sr(cfg, SA2SRConfig(encoder=enc, summarizer_hidden=8), train, valid, pd.concat([lab_t, lab_v]),
                      tmp_path / "pre", wave, **QUIET)
    assert all(np.isfinite(r["train_loss"]) for r in res["history"])
    model = res["model"].eval()
    x = 0.1 * torch.randn(2, 300, 160, generator=torch.Generator().manual_seed(0))
    n = torch.tensor([300, 170])
    with torch.no_grad():
        on_dev, _ = model.encoder(x.to(DEVICE), n.to(DEVICE))
        on_cpu, _ = model.cpu().encoder(x, n)
    torch.testing.assert_close(on_dev.cpu(), on_cpu, atol=2e-3, rtol=2e-3)  # TF32 / cuDNN differences allowed
