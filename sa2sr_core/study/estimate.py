"""How long a profile's pre-training takes on this machine: the model step's measured throughput (on the profile's
device and batch budget, random LibriSpeech-like batches, ~20 s) times the frames of an epoch. For an SSL encoder
also a projection to one H100: the training step's FLOPs per second of audio, counted by torch's FLOP counter, over
an assumed sustained share of the H100's BF16 peak. A projection, not a measurement: run the estimate on the GPU
(`sa2sr reproduce` does, first) for the measured figure."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

#: Hours of speech per official LibriSpeech training subset (the corpus's own figures).
LIBRISPEECH_TRAIN_HOURS = {"train-clean-100": 100.6, "train-clean-360": 363.6, "train-other-500": 496.7}
FRAMES_PER_HOUR = 360_000  # 10 ms hop
#: The projection's two assumptions: one H100 SXM's dense BF16 tensor-core peak (NVIDIA's datasheet), and the share
#: of it the training step sustains. 10 % is what wav2vec 2.0 Base's own pre-training got from its GPUs (64 V100s for
#: 1.6 days, 400k updates of 1.6 h of audio: ~260 s of audio per GPU-second, ~9 % of the V100's fp16 peak at ~42
#: GFLOP per second of audio, this step's count); well-tuned transformer training reaches 30-50 %.
H100_BF16_PEAK_FLOPS = 989e12
ASSUMED_MFU = 0.10


def train_hours(librispeech: str | None, subsets: list[str] | None = None) -> tuple[float, str]:
    """Hours of the pre-training train split: the train subsets the reader will read (params
    `readers.librispeech.subsets`, else those present under the given root), else the paper's full 960 h; and where
    the figure comes from."""
    chosen = [s for s in (subsets or []) if s in LIBRISPEECH_TRAIN_HOURS]
    if not chosen and librispeech:
        from sa2sr_core.corpora.librispeech import find_librispeech_root

        base = find_librispeech_root(librispeech)
        chosen = [s for s in LIBRISPEECH_TRAIN_HOURS if (base / s).is_dir()]
    if chosen:
        return sum(LIBRISPEECH_TRAIN_HOURS[s] for s in chosen), f"LibriSpeech {' + '.join(chosen)}"
    return sum(LIBRISPEECH_TRAIN_HOURS.values()), "the paper's LibriSpeech 960 h"


def training_flops_per_audio_s(model_cfg, seconds: float = 10.0, batch: int = 2) -> float:
    """FLOPs of one training step (forward and backward, eq. 1) per second of audio, counted on CPU for `batch`
    utterances of `seconds`. Counts matrix products and convolutions: right for a transformer backbone; a BiLSTM's
    fused kernels are not counted (use the measured throughput for it)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from sa2sr_core.features.batches import Example, collate
    from sa2sr_core.models.sa2sr import SA2SR
    from sa2sr_core.training.pretrain import sa2sr_loss

    torch.manual_seed(0)
    model = SA2SR(model_cfg)
    frames = int(seconds * 100)
    g = torch.Generator().manual_seed(0)
    tokens = [1 + i % 28 for i in range(int(seconds * 14))]  # ~14 characters per second, as LibriSpeech speaks
    b = collate([Example(f"f{i}", torch.randn(frames, model_cfg.encoder.input_dim, generator=g).numpy(), tokens, 0)
                 for i in range(batch)])
    with FlopCounterMode(display=False) as counter:
        loss, _ = sa2sr_loss(1.0)(model, b)
        loss.backward()
    return counter.get_total_flops() / (batch * seconds)


def h100_hours(flops_per_audio_s: float, audio_hours: float) -> float:
    """Projected hours of training on `audio_hours` of audio on one H100 (the two assumptions above)."""
    return flops_per_audio_s * audio_hours / (H100_BF16_PEAK_FLOPS * ASSUMED_MFU)  # (x 3600 s of audio) / 3600 s


def _sig(x: float) -> float:
    return float(f"{x:.3g}")


def estimate_pretraining(project: Path, corpora: dict, overrides: dict | None = None, profile: str = "paper",
                         log: Callable[[str], None] = print, max_seconds: float = 20.0) -> dict:
    """Measure the model step of params.yaml with `overrides` (a profile's) on this machine; say how long one
    pre-training takes; for an SSL encoder add the H100 projection."""
    from sa2sr_core.config.training import pretrain_configs
    from sa2sr_core.device import pick_device
    from sa2sr_core.models.backbones import resolve_sa2sr
    from sa2sr_core.params import load_params, with_overrides
    from sa2sr_core.study.throughput import step_throughput, synthetic_batches

    params = with_overrides(load_params(project / "params.yaml"), overrides or {})
    cfg, model_cfg = pretrain_configs(params)
    model_cfg = resolve_sa2sr(model_cfg)  # an unavailable hub model fails here, before any run, naming it
    device = pick_device(cfg.device)
    batches = synthetic_batches(model_cfg, cfg.max_frames_per_batch, cfg.max_batch, n=4)
    r = step_throughput(model_cfg, batches, device, cfg.lambda_, cfg.amp, warmup=1, max_seconds=max_seconds)
    subsets = ((params.get("readers") or {}).get("librispeech") or {}).get("subsets")
    hours, source = train_hours(corpora.get("librispeech"), subsets)
    copies = 1 + len(params["features"].get("speed_perturb") or [])
    epoch_h = hours * FRAMES_PER_HOUR * copies / r["frames_per_s"] / 3600
    epochs = min(cfg.patience + 1, cfg.max_epochs)
    out = {"profile": profile, "encoder": model_cfg.encoder.describe(), "device": str(device),
           "step_frames_per_s": round(r["frames_per_s"]), "audio_s_per_s": round(r["frames_per_s"] / 100, 1),
           "steps_timed": r["steps"], "max_frames_per_batch": cfg.max_frames_per_batch, "train_hours": round(hours, 1),
           "train_hours_source": source, "speed_perturb_copies": copies, "min_epochs": epochs,
           "hours_per_epoch": round(epoch_h, 2), "hours_per_pretraining_at_least": round(epoch_h * epochs, 1)}
    log(f"profile {profile} on this machine ({device}, {out['encoder']}): the model step runs "
        f"{r['frames_per_s'] / 100:,.1f} s of audio per second, so one pre-training epoch over {hours:.1f} h x {copies} "
        f"({source}, with speed perturbation) takes about {epoch_h:.2f} h, and one pre-training at least "
        f"{out['hours_per_pretraining_at_least']:.1f} h ({epochs} epochs: patience {cfg.patience} + 1, at most "
        f"{cfg.max_epochs}); the study runs 2 per seed. Data loading adds to this; N GPUs (torchrun) divide it by about N.")
    if model_cfg.encoder.kind == "ssl":
        flops = training_flops_per_audio_s(model_cfg)
        per_epoch = h100_hours(flops, hours * copies)
        out["h100_projection"] = {
            "training_gflops_per_audio_s": _sig(flops / 1e9), "assumed_peak_tflops": H100_BF16_PEAK_FLOPS / 1e12,
            "assumed_mfu": ASSUMED_MFU, "hours_per_epoch": _sig(per_epoch),
            "hours_per_pretraining_at_least": _sig(per_epoch * epochs),
            "note": "a projection from counted FLOPs and an assumed utilisation, not a measurement"}
        log(f"projection for one H100 (not a measurement): {flops / 1e9:.1f} GFLOP per second of audio per training "
            f"step at {ASSUMED_MFU:.0%} of {H100_BF16_PEAK_FLOPS / 1e12:.0f} TFLOP/s (bf16) -> {per_epoch:.3g} h per "
            f"epoch, at least {per_epoch * epochs:.3g} h per pre-training")
    return out
