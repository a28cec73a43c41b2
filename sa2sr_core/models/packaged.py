"""The packaged model directory (`sa2sr predict`, `serve`, `export`): assembled from a pre-training and a
fine-tuning directory by stage `package`, and loaded as one Predictor."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import torch

from sa2sr_core.config.models import EmotionModelConfig, SA2SRConfig
from sa2sr_core.config.text import LM_FILE
from sa2sr_core.io import atomic_dir
from sa2sr_core.models.directory import ModelDirConfig, ModelDirError, read, write_files
from sa2sr_core.models.loaders import build
from sa2sr_core.models.predictor import Predictor, PredictorConfig
from sa2sr_core.names import SENTIMENT_CLASSES


def load_model(model_dir, device="cpu") -> tuple[Predictor, ModelDirConfig]:
    """(Predictor in eval mode, its typed config.json) of a packaged model directory (`sa2sr predict`, `serve`,
    `export`): the network's own config is the Predictor's `cfg`; features, label scale and provenance are the
    ModelDirConfig's."""
    config, weights = read(model_dir, "package")
    model = build(Predictor, PredictorConfig.from_dict, config, weights, Path(model_dir))
    return model.to(device).eval(), config


def package_model(pretrain_dir, finetune_dir, out_dir, trained_on_demo: bool = False,
                  card: Callable[[ModelDirConfig], str] | None = None, finetuned_on: str | None = None) -> PredictorConfig:
    """Combine a pre-training directory (transcript + text sentiment) and a fine-tuning directory (emotion) into
    the packaged `out_dir`; `card(config)` renders its README.md. `finetuned_on`: the fine-tuning data's name
    (evaluation's `data`), so a model whose pre-training alone was the demo's says so."""
    pre, pre_w = read(pretrain_dir, "pretrain", "pre-trained")
    ft, ft_w = read(finetune_dir, "finetune", "fine-tuned")
    if pre.feature_config != ft.feature_config:
        raise ModelDirError(f"{pretrain_dir} and {finetune_dir} were trained on different features: "
                            f"{pre.features} vs {ft.features}")
    ft_train = ft.provenance.get("finetune") or {}
    enc_pre = {k: v for k, v in pre_w.items() if k.startswith("encoder.")}
    enc_ft = {k: v for k, v in ft_w.items() if k.startswith("encoder.")}
    # frozen fine-tuning left the encoder as it was (an SSL encoder: all but its learned layer weights)
    own = {"encoder.layer_weights"} if pre.model["encoder"].get("kind") == "ssl" else set()
    share = ft_train.get("init") == "pretrained" and enc_pre.keys() == enc_ft.keys() and all(
        torch.equal(enc_pre[k], enc_ft[k]) for k in enc_pre if k not in own)
    cfg = PredictorConfig(SA2SRConfig.from_dict(pre.model), EmotionModelConfig.from_dict(ft.model), share)
    state = {f"sa2sr.{k}": v for k, v in pre_w.items()}
    state.update({f"regressor.{k[len('regressor.'):]}": v for k, v in ft_w.items() if k.startswith("regressor.")})
    if not share:
        state.update({f"emotion_encoder.{k[len('encoder.'):]}": v for k, v in enc_ft.items()})
    elif own:
        state["emotion_layer_weights"] = enc_ft["encoder.layer_weights"]
    Predictor(cfg).load_state_dict(state)  # fails loudly here, not at predict time, if anything does not fit
    pre_train = pre.provenance.get("pretrain") or {}
    config = ModelDirConfig("package", cfg.to_dict(), pre.features, pre.normalization, ft.labels,
                            list(SENTIMENT_CLASSES), {"pretrain": pre_train or None, "finetune": ft_train,
                                                      "lambda": pre_train.get("lambda_")}, trained_on_demo,
                            finetuned_on)
    lm = Path(finetune_dir) / LM_FILE  # the text route's lexicon decoder reads it (sa2sr_core.inference.text)
    with atomic_dir(out_dir) as tmp:
        write_files(tmp, {k: v.contiguous() for k, v in state.items()}, config)
        if lm.is_file():
            shutil.copyfile(lm, tmp / LM_FILE)
        if card is not None:
            (tmp / "README.md").write_text(card(config))
    return cfg
