"""What the training loop reads (TrainingConfig) and the two trainings' own keys: params.yaml `pretrain`
(+ `lambda`, `seed`) and `finetune`."""

from __future__ import annotations

from dataclasses import dataclass

from sa2sr_core.config.models import EmotionModelConfig, SA2SRConfig, emotion_model_config, encoder_config
from sa2sr_core.typecheck import build, check_type

#: The learning-rate schedules (sa2sr_core.training.schedule).
SCHEDULES = ("constant", "cosine")

#: Keys of `pretrain` / `finetune` that are paths or launch settings, not training configuration.
PRETRAIN_PLAIN = ("corpus", "model_dir", "live_dir", "metrics", "summary", "ddp_backend", "launcher")
FINETUNE_PLAIN = ("corpus", "model_dir", "live_dir", "metrics", "summary", "folds")


@dataclass
class TrainingConfig:
    """What the loop reads; `pretrain` and `finetune` (params.yaml) extend it and set their own defaults."""

    lr: float = 1e-3  # peak learning rate
    beta1: float = 0.9  # Adam
    beta2: float = 0.999
    max_epochs: int = 3  # a ceiling: runs stop by patience
    patience: int = 25  # epochs without a better selection score before stopping
    min_delta: float = 0.0  # a gain of the selection score at or below this is not an improvement
    schedule: str = "constant"  # constant | cosine (sa2sr_core.training.schedule)
    warmup_steps: int = 0  # linear warm-up updates
    final_lr_ratio: float = 0.05  # cosine: last update's rate / peak
    lr_plateau_patience: int = 0  # bad epochs after which the rate is multiplied by lr_decay (0: never)
    lr_decay: float = 0.5
    short_first_epochs: int = 0  # epochs whose batches go shortest first (SortaGrad), then random order
    max_frames_per_batch: int = 16000  # padded frames (B x longest) per batch
    max_batch: int = 64
    grad_clip: float = 5.0
    amp: bool = False  # bf16 autocast on CUDA
    prefetch: int = -1  # batches read and collated ahead in a background thread; -1: 4 on CUDA, 0 on CPU
    seed: int = 1234
    device: str = "auto"

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.lr_plateau_patience < 0:
            raise ValueError(f"lr_plateau_patience must be >= 0 (0: never), got {self.lr_plateau_patience}")


@dataclass
class PretrainConfig(TrainingConfig):
    """params.yaml `pretrain` (+ top-level `lambda` and `seed`); the loop's keys are TrainingConfig's."""

    lambda_: float = 200.0
    shard_pool: int = 1  # shards read together and batched as one (memory: one pool)


@dataclass
class FinetuneConfig(TrainingConfig):
    """params.yaml `finetune` (+ `seed`); the loop's keys are TrainingConfig's, with fine-tuning's defaults."""

    lr: float = 5e-4
    max_epochs: int = 40
    patience: int = 6
    lr_plateau_patience: int = 2
    max_frames_per_batch: int = 8000
    max_batch: int = 32
    init: str = "pretrained"  # pretrained | scratch
    freeze_encoder: bool = False
    encoder_lr_scale: float = 1.0  # a pre-trained encoder learns at lr x this (1.0: one rate for all, the paper)
    freeze_baseline_path: bool = False  # with utterance stats: keep the ridge-initialised linear path fixed
    scale_min: float = 1.0  # the declared label scale (MSP-Podcast, your manifest: 1-7); the fine-tuning corpus
    scale_max: float = 7.0  # sets the one it uses (IEMOCAP: 1-5; corpora.finetuning.FinetuneCorpus.training_config)
    # What is learnt: dimensions (A/V/D, CCC loss: the paper) | categories (a class head, cross-entropy) | both
    # (L = L_CCC + category_weight * L_CE) | auto: the fine-tuning corpus decides (corpora.finetuning: dimensions
    # for MSP-Podcast; the labels Train has for IEMOCAP and your own manifest). Selection on Development: mean CCC;
    # unweighted accuracy (UA); both: their mean.
    task: str = "auto"
    category_weight: float = 1.0
    class_balanced: bool = False  # cross-entropy weighted by inverse class frequency in Train
    # A class head with side inputs (functionals, text) gets a linear path on them that starts at the logistic
    # baseline (its regulariser chosen on Development), as the A/V/D outputs start at the ridge: fine-tuning begins
    # where the classical model ends. false: the class head starts at random (as before 2026-12-07).
    class_baseline_start: bool = True

    def __post_init__(self):
        super().__post_init__()
        if self.task not in ("auto", "dimensions", "categories", "both"):
            raise ValueError(f"finetune.task must be auto, dimensions, categories or both, got {self.task!r}")
        if not self.category_weight > 0:
            raise ValueError(f"finetune.category_weight must be > 0, got {self.category_weight!r}")
        if self.init not in ("pretrained", "scratch"):
            raise ValueError(f"finetune.init must be 'pretrained' or 'scratch', got {self.init!r}")
        if not self.encoder_lr_scale >= 0:  # also rejects NaN
            raise ValueError(f"finetune.encoder_lr_scale must be >= 0 (0 keeps the pre-trained encoder fixed), "
                             f"got {self.encoder_lr_scale!r}")


def pretrain_configs(params: dict) -> tuple[PretrainConfig, SA2SRConfig]:
    """(PretrainConfig, SA2SRConfig) from params `pretrain`, top-level `lambda` and `seed`."""
    p = {k: v for k, v in params["pretrain"].items() if k not in PRETRAIN_PLAIN and k != "encoder"}
    check_type("lambda", params["lambda"], float)
    check_type("seed", params["seed"], int)
    model = SA2SRConfig(encoder=encoder_config(params), summarizer_hidden=p.pop("summarizer_hidden", 128))
    cfg = build(PretrainConfig, {**p, "lambda_": float(params["lambda"]), "seed": int(params["seed"])}, "pretrain")
    return cfg, model


def finetune_config(params: dict) -> FinetuneConfig:
    """FinetuneConfig from params `finetune` and `seed` (+ finetune.seed_offset, for seed sweeps of fine-tuning alone)."""
    p = {k: v for k, v in params["finetune"].items() if k not in FINETUNE_PLAIN and k not in ("regressor", "text")}
    check_type("seed", params["seed"], int)
    seed = int(params["seed"]) + int(p.pop("seed_offset", 0))
    return build(FinetuneConfig, {**p, "seed": seed}, "finetune")


def finetune_configs(params: dict) -> tuple[FinetuneConfig, EmotionModelConfig]:
    """(FinetuneConfig, EmotionModelConfig) from params `finetune`, `pretrain.encoder` and `seed`."""
    return finetune_config(params), emotion_model_config(params)
