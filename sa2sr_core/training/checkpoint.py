"""Resumable training state shared by pre-training and fine-tuning: one checkpoint dict, saved atomically
every epoch, loaded with `weights_only=True`, and only when it was made by the same run."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from sa2sr_core.errors import Sa2srError
from sa2sr_core.io import atomic_path

#: Config keys that may change between a run and its resumption without changing its trajectory.
RESUME_SAFE = ("max_epochs", "patience", "device", "prefetch")


def run_fingerprint(cfg, *extra) -> str:
    """Hash of a training config (less RESUME_SAFE keys) and whatever else the run depends on."""
    run_cfg = {k: v for k, v in asdict(cfg).items() if k not in RESUME_SAFE}
    return hashlib.sha1(json.dumps([run_cfg, *extra], sort_keys=True, default=str).encode()).hexdigest()


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    random.setstate((3, tuple(s["python"]), None))
    if s.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


class CheckpointError(Sa2srError):
    """A resume checkpoint that cannot be read."""


@dataclass
class TrainState:
    """Where a run stands after `epoch` finished epochs."""

    epoch: int = 0
    best: dict | None = None
    history: list[dict] = field(default_factory=list)
    bad_epochs: int = 0
    start: dict | None = None  # the untrained model's validation (epoch 0), for a task whose start is a candidate


def resume(path: Path, fingerprint: str, model: torch.nn.Module, opt: torch.optim.Optimizer, log=print) -> TrainState:
    """Restore model, optimiser and RNG from `path` if it was made by this run; else a fresh state."""
    if not path.exists():
        return TrainState()
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        keys = ("fingerprint", "model", "optimizer", "rng", "epoch", "best", "history", "bad_epochs")
        if not isinstance(ckpt, dict) or any(k not in ckpt for k in keys):
            raise ValueError("not an sa2sr training checkpoint")
    except Exception as e:  # truncated, corrupt, or some other file: never guess, never overwrite it
        reason = str(e).splitlines()[0] if str(e) else e.__class__.__name__
        raise CheckpointError(f"{path} cannot be read as a training checkpoint ({reason}). It is this run's "
                              f"resume point: restore it, or delete it to start this training afresh "
                              f"(rm {path})") from None
    if ckpt.get("fingerprint") != fingerprint:
        log(f"{path} was made with another config or data: starting afresh")
        return TrainState()
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    set_rng_state(ckpt["rng"])
    log(f"resuming from {path} after epoch {ckpt['epoch']}")
    return TrainState(ckpt["epoch"], ckpt["best"], ckpt["history"], ckpt["bad_epochs"], ckpt.get("start"))


def save(path: Path, fingerprint: str, model: torch.nn.Module, opt: torch.optim.Optimizer, state: TrainState) -> None:
    """The same state is the same bytes, on every run and after a resume (so is the model directory's hash in
    dvc.lock): torch.save gets a file object (given a path, it names the archive's folder after it, and the
    temporary path is random), and the history goes through JSON (pickle writes a string once per object, and
    a resumed run's history holds other objects than an uninterrupted run's)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": rng_state(),
                    "fingerprint": fingerprint, **json.loads(json.dumps(asdict(state)))}, f)
