"""The text route into fine-tuning (params.yaml `finetune.text`): which transcript the emotion model reads beside
the sound, and which of the text model's outputs it reads (docs/text.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sa2sr_core.typecheck import build, check_type

#: none: sound only (the paper); gold: the corpus's own transcripts; asr: the pre-trained SA2SR model's own greedy
#: CTC transcripts, for training as for testing (the model learns on the text it will see).
TEXT_SOURCES = ("none", "gold", "asr")
#: How the asr source turns the CTC posteriors into words: greedy (best path) | lexicon (the greedy words snapped to
#: the pre-training transcripts' lexicon under their word bigram LM: sa2sr_core.models.word_decoder).
DECODERS = ("greedy", "lexicon")
#: The lexicon decoder's word LM, in the text features' folder and in a model directory that reads through it.
LM_FILE = "word_lm.parquet"
#: How the text meets the sound (docs/text.md "Fusion"): concat (the text vector beside the pooled sequence and the
#: functionals, one network) | late (the speech-only model and the text-only baseline, their outputs mixed with
#: per-output weights chosen on Development after training; the default, chosen on Development over speaker folds).
FUSIONS = ("concat", "late")


@dataclass
class TextConfig:
    """params.yaml `finetune.text`."""

    source: str = "none"
    hidden: bool = False  # also the text model's mean-pooled last hidden state (transformer models only, not VADER)
    decoder: str = "lexicon"  # source asr: greedy | lexicon
    lm_weight: float = 1.0  # lexicon: the word LM's weight beside the CTC score (chosen on Development WER)
    nearest: int = 64  # lexicon: candidates per word by edit distance to its greedy spelling ...
    beam: int = 16  # ... of which the best by CTC score go into the Viterbi pass
    fusion: str = "late"  # late | concat (FUSIONS; docs/text.md "Fusion"; a model directory without it: concat)

    def __post_init__(self):
        if self.source not in TEXT_SOURCES:
            raise ValueError(f"finetune.text.source must be one of {TEXT_SOURCES}, got {self.source!r}")
        if self.decoder not in DECODERS:
            raise ValueError(f"finetune.text.decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"finetune.text.fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.lm_weight < 0 or self.nearest < 1 or self.beam < 1:
            raise ValueError(f"finetune.text: lm_weight >= 0, nearest >= 1 and beam >= 1, got {self.lm_weight}, "
                             f"{self.nearest}, {self.beam}")

    @property
    def enabled(self) -> bool:
        return self.source != "none"

    @property
    def lexicon(self) -> bool:
        """Whether the asr source decodes through the lexicon and word LM."""
        return self.source == "asr" and self.decoder == "lexicon"

    def decoder_info(self) -> dict:
        """What a model directory records of the decoder its text route reads through (sa2sr_core.inference.text)."""
        if not self.lexicon:
            return {"kind": "greedy"}
        return {"kind": "lexicon", "lm_weight": self.lm_weight, "nearest": self.nearest, "beam": self.beam}


def text_config(params: dict) -> TextConfig:
    return build(TextConfig, (params.get("finetune") or {}).get("text") or {}, "finetune.text")


def text_features_path(params: dict) -> Path:
    """The fine-tuning corpus's text features (stage text_features; params data.text_dir)."""
    check_type("data.text_dir", params["data"]["text_dir"], str)
    return Path(params["data"]["text_dir"]) / "features.parquet"


def word_lm_path(params: dict) -> Path:
    """The asr source's word LM (lexicon decoder), written by stage text_features beside the features."""
    return Path(params["data"]["text_dir"]) / LM_FILE


def text_summary_path(params: dict) -> Path:
    """Stage text_features' summary: utterances, those without text, the text model, the time (asr: WER / CER); in
    the features' folder, cached with them, so that DVC's run cache brings back a source computed before."""
    return Path(params["data"]["text_dir"]) / "summary.json"


def text_baseline_path(params: dict) -> Path:
    """The text-only baseline's test predictions (stage baseline; params baseline.text_predictions)."""
    check_type("baseline.text_predictions", params["baseline"]["text_predictions"], str)
    return Path(params["baseline"]["text_predictions"])
