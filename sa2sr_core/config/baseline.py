"""The classical baseline (params.yaml `baseline`)."""

from __future__ import annotations

from dataclasses import dataclass

from sa2sr_core.typecheck import build


@dataclass
class BaselineConfig:
    """params.yaml `baseline`: the ridge regulariser is chosen on Development among `alphas` (params.yaml states them)."""

    alphas: list[float]


def baseline_config(params: dict) -> BaselineConfig:
    return build(BaselineConfig, {k: v for k, v in (params.get("baseline") or {}).items()
                                  if k not in ("predictions", "text_predictions", "metrics")}, "baseline")
