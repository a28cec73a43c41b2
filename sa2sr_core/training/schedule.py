"""Learning-rate schedules, as pure functions of the update count (so a resumed run needs only its step).

- `constant`: the peak rate throughout (the paper's Adam 5e-5), after an optional linear warm-up.
- `cosine`: linear warm-up over `warmup_steps` updates, then a half-cosine from the peak down to
  `final_ratio` × peak at `total_steps` (the planned last update). Ending low means the selected epoch sits
  on a flat part of the learning curve, not on its steep part, where float rounding differences between
  machines decide where a short run stops.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")


def lr_factor(step: int, total_steps: int, warmup_steps: int = 0, kind: str = "constant",
              final_ratio: float = 0.05) -> float:
    """Multiplier of the peak learning rate for update `step` (0-based)."""
    if kind not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {kind!r}; choose one of {SCHEDULES}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if kind == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / span)
    return final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def set_lr(opt, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)  # a group may learn at a fixed fraction of the rate
