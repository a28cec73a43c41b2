"""The text route into fine-tuning (params.yaml `finetune.text`): which transcript the emotion model reads beside
the sound, and which of the text model's outputs it reads (docs/text.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sa2sr_core.typecheck import build, check_type

#: none: sound only (the paper); gold: the corpus's own transcripts; asr: the pre-trained SA2SR model's own greedy
#: CTC transcripts, for training as for testing (the model learns on the text it will see).
TEXT_SOURCES = ("none", "gold", "asr")


@dataclass
class TextConfig:
    """params.yaml `finetune.text`."""

    source: str = "none"
    hidden: bool = False  # also the text model's mean-pooled last hidden state (transformer models only, not VADER)

    def __post_init__(self):
        if self.source not in TEXT_SOURCES:
            raise ValueError(f"finetune.text.source must be one of {TEXT_SOURCES}, got {self.source!r}")

    @property
    def enabled(self) -> bool:
        return self.source != "none"


def text_config(params: dict) -> TextConfig:
    return build(TextConfig, (params.get("finetune") or {}).get("text") or {}, "finetune.text")


def text_features_path(params: dict) -> Path:
    """The fine-tuning corpus's text features (stage text_features; params data.text_dir)."""
    check_type("data.text_dir", params["data"]["text_dir"], str)
    return Path(params["data"]["text_dir"]) / "features.parquet"


def text_summary_path(params: dict) -> Path:
    """Stage text_features' summary: utterances, those without text, the text model, the time (asr: WER / CER); in
    the features' folder, cached with them, so that DVC's run cache brings back a source computed before."""
    return Path(params["data"]["text_dir"]) / "summary.json"


def text_baseline_path(params: dict) -> Path:
    """The text-only baseline's test predictions (stage baseline; params baseline.text_predictions)."""
    check_type("baseline.text_predictions", params["baseline"]["text_predictions"], str)
    return Path(params["baseline"]["text_predictions"])
