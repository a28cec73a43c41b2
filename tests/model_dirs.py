"""Tiny pre-training / fine-tuning model directories written the way the stages write them, and their package."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig, SA2SRConfig
from sa2sr_core.config.training import FinetuneConfig, PretrainConfig
from sa2sr_core.evaluation.card import model_card
from sa2sr_core.models import directory
from sa2sr_core.models.directory import finetune_dir_config, pretrain_dir_config, trained_on_demo
from sa2sr_core.models.packaged import package_model
from sa2sr_core.models.regressor import EmotionModel
from sa2sr_core.models.sa2sr import SA2SR
from tests.helpers import standardise_stats

ENC = EncoderConfig(hidden=16, layers=2)
FEATURES = FeatureConfig()
FEATS = asdict(FEATURES)


#: The text route of a tiny model (docs/text.md): VADER's four features, as stage text_features makes them.
TEXT = {"source": "asr", "features": ["p_negative", "p_neutral", "p_positive", "has_text"], "hidden": False,
        "text_model": "vader", "labeler": {"model": "cardiffnlp/twitter-roberta-base-sentiment-latest",
                                           "fallback": "vader", "max_tokens_per_batch": 4096, "max_length": 512,
                                           "sentence_case": True}}


def write_model_dirs(root: Path, frozen: bool = False, seed: int = 0, stats: bool = False,
                     classes: tuple[str, ...] = (), text: dict | None = None) -> tuple[Path, Path, SA2SR, EmotionModel]:
    torch.manual_seed(seed)
    asr = SA2SR(SA2SRConfig(encoder=ENC, summarizer_hidden=8)).eval()
    directory.save(root / "pretrain", asr, pretrain_dir_config(asr, FEATURES, asdict(PretrainConfig(lambda_=10.0))))
    emo = EmotionModel(EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84 if stats else 0,
                                                               classes=classes, text_dim=len(text["features"]) if text
                                                               else 0, text=text or {}))).eval()
    if text:  # the valence leans on the words: a positive transcript raises it
        with torch.no_grad():
            emo.regressor.text_mean.fill_(0.3)
            emo.regressor.text_std.fill_(0.4)
            emo.regressor.text_linear.weight[1] = torch.tensor([-2.0, 0.0, 2.0, 0.0])
    if stats:  # standardisation as training sets it: log-energy-like levels
        standardise_stats(emo.regressor, 10.0 + 3.0 * torch.randn(50, 84))
    if frozen:
        emo.encoder.load_state_dict(asr.encoder.state_dict())
    else:
        with torch.no_grad():  # a fine-tuned encoder: moved away from the pre-trained one
            for p_e, p_a in zip(emo.encoder.parameters(), asr.encoder.parameters()):
                p_e.copy_(p_a + 0.05 * torch.randn_like(p_a))
    directory.save(root / "finetune", emo, finetune_dir_config(emo, FEATURES, (1.0, 7.0),
                                                               asdict(FinetuneConfig(freeze_encoder=frozen))))
    return root / "pretrain", root / "finetune", asr, emo


def packaged(root: Path, frozen: bool = False, stats: bool = False, classes: tuple[str, ...] = (),
             text: dict | None = None) -> tuple[Path, SA2SR, EmotionModel]:
    pre, ft, asr, emo = write_model_dirs(root, frozen, stats=stats, classes=classes, text=text)
    package(pre, ft, root / "sa2sr")
    return root / "sa2sr", asr, emo


def package(pre: Path, ft: Path, out: Path, info: dict | None = None):
    """What stage `package` does: the packaged directory with its model card from `info` (card data, metrics)."""
    info = info or {}
    return package_model(pre, ft, out, trained_on_demo(info), lambda config: model_card(config, info),
                         (info.get("eval") or {}).get("data"))
