"""The demo corpus's sizes and shape (params.yaml `demo`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sa2sr_core.typecheck import build


@dataclass
class DemoConfig:
    """Sizes and shape of the demo corpus (params.yaml `demo`)."""

    seed: int = 1234
    librispeech: dict[str, int] = field(default_factory=lambda: {"train-clean-100": 400, "dev-clean": 60, "test-clean": 60})
    librispeech_speakers: dict[str, int] = field(default_factory=lambda: {"train-clean-100": 8, "dev-clean": 2, "test-clean": 2})
    iemocap_per_speaker: int = 30
    msp_podcast: dict[str, int] = field(default_factory=lambda: {"Train": 480, "Development": 120, "Test1": 120, "Test2": 60})
    msp_speakers: dict[str, int] = field(default_factory=lambda: {"Train": 12, "Development": 3, "Test1": 3, "Test2": 2})
    text_agreement: float = 0.7
    label_noise: float = 0.25
    noise_db: float = -45.0


def demo_config(params: dict) -> DemoConfig:
    return build(DemoConfig, params.get("demo"), "demo")
