"""How long the paper profile's pre-training takes on this machine: the model step's measured throughput (on
the profile's device and batch budget, random LibriSpeech-like batches, ~20 s) times the frames of an epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

#: Hours of speech per official LibriSpeech training subset (the corpus's own figures).
LIBRISPEECH_TRAIN_HOURS = {"train-clean-100": 100.6, "train-clean-360": 363.6, "train-other-500": 496.7}
FRAMES_PER_HOUR = 360_000  # 10 ms hop


def train_hours(librispeech: str | None) -> tuple[float, str]:
    """Hours of the pre-training train split (the subsets present under the given LibriSpeech root, else the
    paper's full 960 h), and where the figure comes from."""
    if librispeech:
        from sa2sr_core.corpora.librispeech import find_librispeech_root

        base = find_librispeech_root(librispeech)
        present = [s for s in LIBRISPEECH_TRAIN_HOURS if (base / s).is_dir()]
        if present:
            return sum(LIBRISPEECH_TRAIN_HOURS[s] for s in present), f"LibriSpeech {' + '.join(present)}"
    return sum(LIBRISPEECH_TRAIN_HOURS.values()), "the paper's LibriSpeech 960 h"


def estimate_paper_profile(project: Path, corpora: dict, log: Callable[[str], None] = print,
                           max_seconds: float = 20.0) -> dict:
    from sa2sr_core.device import pick_device
    from sa2sr_core.params import load_params, load_profile, pretrain_configs, with_overrides
    from sa2sr_core.throughput import step_throughput, synthetic_batches

    params = with_overrides(load_params(project / "params.yaml"), load_profile("paper", project))
    cfg, model_cfg = pretrain_configs(params)
    device = pick_device(cfg.device)
    batches = synthetic_batches(model_cfg, cfg.max_frames_per_batch, cfg.max_batch, n=4)
    r = step_throughput(model_cfg, batches, device, cfg.lambda_, cfg.amp, warmup=1, max_seconds=max_seconds)
    hours, source = train_hours(corpora.get("librispeech"))
    copies = 1 + len(params["features"].get("speed_perturb") or [])
    epoch_h = hours * FRAMES_PER_HOUR * copies / r["frames_per_s"] / 3600
    out = {"device": str(device), "step_frames_per_s": round(r["frames_per_s"]), "steps_timed": r["steps"],
           "max_frames_per_batch": cfg.max_frames_per_batch, "train_hours": round(hours, 1), "train_hours_source": source,
           "speed_perturb_copies": copies, "min_epochs": cfg.patience + 1, "hours_per_epoch": round(epoch_h, 2),
           "hours_per_pretraining_at_least": round(epoch_h * (cfg.patience + 1), 1)}
    log(f"paper profile on this machine ({device}): the model step runs {r['frames_per_s']:,.0f} frames/s, so one "
        f"pre-training epoch over {hours:.1f} h x {copies} ({source}, with speed perturbation) takes about "
        f"{epoch_h:.2f} h, and one pre-training at least {out['hours_per_pretraining_at_least']:.1f} h (the paper "
        f"stops after {cfg.patience} epochs without a better M: >= {out['min_epochs']} epochs); the study runs 2 per "
        f"seed. Data loading adds to this; N GPUs (torchrun) divide it by about N.")
    return out
