"""Tiny pre-training / fine-tuning model directories written the way the stages write them, and their package."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from sa2sr_core.bundle import package_model
from sa2sr_core.features import FbankConfig
from sa2sr_core.finetune import FinetuneConfig, save_emotion_model
from sa2sr_core.models.encoder import EncoderConfig
from sa2sr_core.models.regressor import EmotionModel, EmotionModelConfig, RegressorConfig
from sa2sr_core.models.sa2sr import SA2SR, SA2SRConfig
from sa2sr_core.pretrain import PretrainConfig, save_model_dir

ENC = EncoderConfig(hidden=16, layers=2)
FEATS = asdict(FbankConfig())


def write_model_dirs(root: Path, frozen: bool = False, seed: int = 0, stats: bool = False
                     ) -> tuple[Path, Path, SA2SR, EmotionModel]:
    torch.manual_seed(seed)
    asr = SA2SR(SA2SRConfig(encoder=ENC, summarizer_hidden=8)).eval()
    save_model_dir(root / "pretrain", asr, {"features": FEATS, "normalization": {"type": "utterance"},
                                            "pretrain": asdict(PretrainConfig(lambda_=10.0))})
    emo = EmotionModel(EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84 if stats else 0))).eval()
    if stats:  # standardisation as training sets it: log-energy-like levels
        emo.regressor.set_stats_normalisation(10.0 + 3.0 * torch.randn(50, 84))
    if frozen:
        emo.encoder.load_state_dict(asr.encoder.state_dict())
    else:
        with torch.no_grad():  # a fine-tuned encoder: moved away from the pre-trained one
            for p_e, p_a in zip(emo.encoder.parameters(), asr.encoder.parameters()):
                p_e.copy_(p_a + 0.05 * torch.randn_like(p_a))
    save_emotion_model(root / "finetune", emo, {
        "features": FEATS, "labels": {"dimensions": ["activation", "valence", "dominance"], "scale": [1.0, 7.0],
                                      "training_normalisation": "none"},
        "finetune": asdict(FinetuneConfig(freeze_encoder=frozen))})
    return root / "pretrain", root / "finetune", asr, emo


def packaged(root: Path, frozen: bool = False, stats: bool = False) -> tuple[Path, SA2SR, EmotionModel]:
    pre, ft, asr, emo = write_model_dirs(root, frozen, stats=stats)
    package_model(pre, ft, root / "sa2sr", {})
    return root / "sa2sr", asr, emo
