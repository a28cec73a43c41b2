"""The text-sentiment labeller (params.yaml `labeler`)."""

from __future__ import annotations

from dataclasses import dataclass

from sa2sr_core.typecheck import build


@dataclass
class LabelerConfig:
    """params.yaml `labeler`."""

    model: str = "cardiffnlp/twitter-roberta-base-sentiment-latest"  # hub id or local directory
    fallback: str = "vader"  # vader | none
    max_tokens_per_batch: int = 4096  # padded tokens per forward pass (length-sorted dynamic batching)
    max_length: int = 512
    sentence_case: bool = True  # ALL-CAPS transcripts (LibriSpeech) -> sentence case before labelling
    device: str = "auto"

    def __post_init__(self):
        if self.fallback not in ("vader", "none"):
            raise ValueError(f"labeler.fallback must be 'vader' or 'none', got {self.fallback!r}")


def labeler_config(params: dict) -> LabelerConfig:
    return build(LabelerConfig, {k: v for k, v in (params.get("labeler") or {}).items() if k != "corpora"}, "labeler")
