"""The training networks built from model directories (sa2sr_core.models.directory reads and checks them): the
fine-tuned emotion model, and a pre-trained encoder copied into a new one."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable

from sa2sr_core.config.models import EmotionModelConfig
from sa2sr_core.models.directory import ModelDirConfig, ModelDirError, read
from sa2sr_core.models.regressor import EmotionModel


def build(cls, from_dict: Callable, config: ModelDirConfig, weights: dict, d: Path):
    """`cls(from_dict(config.model))` with `weights` loaded; ModelDirError names what does not fit."""
    try:
        model = cls(from_dict(config.model))
    except (KeyError, TypeError, ValueError) as e:  # e.g. an SSL encoder whose backbone config is missing
        raise ModelDirError(f"{d / 'config.json'}: its model config cannot build a model ({e.__class__.__name__}: "
                            f"{e}); re-run `dvc repro` or copy the model directory again") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise ModelDirError(f"{d / 'model.safetensors'} does not fit {d / 'config.json'}: {str(e)[:300]}") from None
    return model


def load_emotion_model(model_dir, device="cpu") -> EmotionModel:
    """The fine-tuned emotion model (stage `evaluate`), in eval mode."""
    config, weights = read(model_dir, "finetune", "fine-tuned")
    return build(EmotionModel, EmotionModelConfig.from_dict, config, weights, Path(model_dir)).to(device).eval()


def load_pretrained_encoder(model: EmotionModel, model_dir: str | Path) -> None:
    """Copy the encoder weights of a pre-training directory into `model`; named errors on any mismatch."""
    config, weights = read(model_dir, "pretrain", "pre-trained")
    saved = {"kind": "bilstm", **config.model["encoder"]}  # older directories: BiLSTM
    want = asdict(model.cfg.encoder)
    arch = ("kind", "input_dim") + (("stack", "skip", "hidden", "layers") if want["kind"] == "bilstm" else ())
    diff = {k: (saved.get(k), want[k]) for k in arch if saved.get(k) != want[k]}
    if want["kind"] == "ssl":  # the same backbone: model and its whole transformers config
        s_ssl = saved.get("ssl") or {}
        if s_ssl.get("model") != want["ssl"]["model"]:
            diff["ssl.model"] = (s_ssl.get("model"), want["ssl"]["model"])
        elif s_ssl.get("backbone") != want["ssl"]["backbone"]:
            diff["ssl.backbone"] = "the backbone's transformers config changed since pre-training"
    cfg_path = Path(model_dir) / "config.json"
    if diff:
        raise ModelDirError(f"{cfg_path}: encoder config does not match finetune's (saved, wanted): {diff}")
    state = {k[len("encoder."):]: v for k, v in weights.items() if k.startswith("encoder.")}
    missing, unexpected = model.encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelDirError(f"{Path(model_dir) / 'model.safetensors'}: encoder weights do not fit: missing "
                            f"{missing[:5]}, unexpected {unexpected[:5]}")


def load_sa2sr(model_dir, device="cpu"):
    """The pre-trained SA2SR network (encoder, CTC head, sentiment head) of a pre-training directory, in eval mode."""
    from sa2sr_core.config.models import SA2SRConfig
    from sa2sr_core.models.sa2sr import SA2SR

    config, weights = read(model_dir, "pretrain", "pre-trained")
    return build(SA2SR, SA2SRConfig.from_dict, config, weights, Path(model_dir)).to(device).eval()
