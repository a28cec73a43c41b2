"""Every model directory sa2sr writes or reads, through one typed schema (ModelDirConfig, its config.json):

    models/pretrain/    kind "pretrain": the SA2SR network (encoder + CTC head + sentiment head)
    models/finetune/    kind "finetune": the emotion model (encoder + regressor)
    models/sa2sr/       kind "package": both, for `sa2sr predict` / `serve` / `export` (stage `package`)
      model.safetensors   the weights (CPU tensors)
      config.json         ModelDirConfig: format, the model config that builds the network, features,
                          normalisation, label scale, sentiment classes, provenance
      vocab.json          the 29 CTC symbols (pretrain and package)
      README.md           the model card (package; rendered by sa2sr_core.evaluation.card)

Written atomically, read with named errors (ModelDirError: the file and what to do), never by another module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.config.models import EmotionModelConfig, RANDOM_BACKBONES, SA2SRConfig
from sa2sr_core.errors import Sa2srError
from sa2sr_core.io import atomic_dir, atomic_path, write_json
from sa2sr_core.models.predictor import Predictor, PredictorConfig
from sa2sr_core.models.regressor import EmotionModel
from sa2sr_core.models.sa2sr import SA2SR
from sa2sr_core.names import CHARS, DIMS, SENTIMENT_CLASSES

#: config.json's `format` for each kind of model directory (the packaged one's is what `sa2sr predict` checks).
FORMATS = {"pretrain": "sa2sr-pretrain/1", "finetune": "sa2sr-finetune/1", "package": "sa2sr-model/1"}
FORMAT = FORMATS["package"]
#: The keys each kind's config.json must have besides `format` and `model`.
REQUIRED = {"pretrain": ("features", "normalization", "sentiment_classes"),
            "finetune": ("features", "normalization", "labels"),
            "package": ("features", "normalization", "labels", "sentiment_classes", "provenance")}


class ModelDirError(Sa2srError):
    """A model directory that cannot be used; the message names the file and what to do."""


@dataclass
class ModelDirConfig:
    """config.json of a model directory. `model` builds the network (SA2SRConfig, EmotionModelConfig or
    PredictorConfig as a dict, by kind); `provenance` says how it was trained (the training configs, lambda, the
    pre-trained directory)."""

    kind: str
    model: dict
    features: dict
    normalization: dict
    labels: dict | None = None
    sentiment_classes: list[str] | None = None
    provenance: dict = field(default_factory=dict)
    trained_on_demo: bool = False

    def __post_init__(self):
        if self.kind not in FORMATS:
            raise ValueError(f"model directory kind must be one of {tuple(FORMATS)}, got {self.kind!r}")

    @property
    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)

    def to_json(self) -> dict:
        d = {"format": FORMATS[self.kind], **asdict(self)}
        del d["kind"]
        if self.kind != "package":
            del d["trained_on_demo"]
        return {k: v for k, v in d.items() if v is not None}

    @classmethod
    def from_json(cls, d: dict, path: Path, kind: str | None = None) -> "ModelDirConfig":
        """Validate a config.json (of `kind`, if given). Directories written before formats were named (no `format`:
        the training configs at the top level) are read as their kind."""
        fmt = d.get("format")
        if fmt is None and "model" in d and ("pretrain" in d or "finetune" in d):
            found = "pretrain" if "pretrain" in d else "finetune"
            d = {**{k: v for k, v in d.items() if k not in ("pretrain", "finetune", "pretrained_from")},
                 "provenance": {k: d[k] for k in ("pretrain", "finetune", "pretrained_from") if k in d}}
        else:
            found = next((k for k, f in FORMATS.items() if f == fmt), None)
        if found is None or (kind is not None and found != kind):
            want = FORMATS[kind] if kind else " or ".join(FORMATS.values())
            hint = " (a models/pretrain or models/finetune directory? use models/sa2sr)" if kind == "package" else ""
            raise ModelDirError(f"{path}: format {fmt!r}, expected {want!r}{hint}")
        missing = [k for k in ("model", *REQUIRED[found]) if k not in d]
        if missing:
            raise ModelDirError(f"{path}: {missing} missing: {path.parent} is not a complete {found} model directory")
        return cls(kind=found, **{k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "kind"})


def pretrain_dir_config(model: SA2SR, features: FeatureConfig, training: dict | None = None) -> ModelDirConfig:
    return ModelDirConfig("pretrain", model.cfg.to_dict(), asdict(features), {"type": features.normalize},
                          sentiment_classes=list(SENTIMENT_CLASSES), provenance={"pretrain": training})


def finetune_dir_config(model: EmotionModel, features: FeatureConfig, scale: tuple[float, float],
                        training: dict | None = None, pretrained_from: str | None = None) -> ModelDirConfig:
    labels = {"dimensions": list(DIMS), "scale": list(scale),
              "training_normalisation": "none: trained and reported on the corpus scale"}
    return ModelDirConfig("finetune", model.cfg.to_dict(), asdict(features), {"type": features.normalize},
                          labels=labels, provenance={"finetune": training, "pretrained_from": pretrained_from})


# ---------------------------------------------------------------------------------------------- writing
def save(out_dir: str | Path, model: torch.nn.Module, config: ModelDirConfig) -> None:
    """Weights, config.json and (for kinds with a CTC head) vocab.json into out_dir, each written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir, {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, config)


def _write(out_dir: Path, state: dict, config: ModelDirConfig) -> None:
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    write_json(out_dir / "config.json", config.to_json())
    if config.kind != "finetune":
        write_json(out_dir / "vocab.json", {"chars": list(CHARS), "blank": 0})


# ---------------------------------------------------------------------------------------------- reading
def _read_json(path: Path) -> dict:
    try:
        out = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelDirError(f"{path} is not valid JSON ({e}): the model directory is damaged; re-run "
                            f"`dvc repro` or copy it again") from None
    if not isinstance(out, dict):
        raise ModelDirError(f"{path}: expected a JSON object, got {type(out).__name__}")
    return out


def _read_weights(path: Path) -> dict:
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises SafetensorError for a truncated or foreign file
        raise ModelDirError(f"{path} cannot be read ({e.__class__.__name__}: {e}): the weights are truncated or "
                            f"damaged; re-run `dvc repro` or copy the model directory again") from None


def read(model_dir: str | Path, kind: str, what: str | None = None) -> tuple[ModelDirConfig, dict]:
    """(config, weights) of a model directory of `kind`, every file checked; ModelDirError says what is wrong."""
    d = Path(model_dir)
    if not d.is_dir():
        how = "run `dvc repro` (it writes models/sa2sr) or pass --model DIR" if kind == "package" else \
            f"run `dvc repro {kind}` first"
        raise ModelDirError(f"{what or kind} model directory {d} does not exist: {how}")
    files = ["config.json", "model.safetensors"] + (["vocab.json"] if kind != "finetune" else [])
    for name in files:
        if not (d / name).is_file():
            raise ModelDirError(f"{d / name} is missing: {d} is not a complete {kind} model directory "
                                f"({'re-run `dvc repro`' if kind == 'package' else f'run `dvc repro {kind}` first'})")
    config = ModelDirConfig.from_json(_read_json(d / "config.json"), d / "config.json", kind)
    if kind != "finetune" and tuple(_read_json(d / "vocab.json").get("chars") or ()) != CHARS:
        raise ModelDirError(f"{d / 'vocab.json'}: vocabulary differs from this version's 29 symbols")
    return config, _read_weights(d / "model.safetensors")


def _build(cls, build: Callable, config: ModelDirConfig, weights: dict, d: Path):
    try:
        model = cls(build(config.model))
    except (KeyError, TypeError, ValueError) as e:  # e.g. an SSL encoder whose backbone config is missing
        raise ModelDirError(f"{d / 'config.json'}: its model config cannot build a model ({e.__class__.__name__}: "
                            f"{e}); re-run `dvc repro` or copy the model directory again") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise ModelDirError(f"{d / 'model.safetensors'} does not fit {d / 'config.json'}: {str(e)[:300]}") from None
    return model


def load_model(model_dir, device="cpu") -> tuple[Predictor, dict]:
    """(Predictor in eval mode, config.json) of a packaged model directory (`sa2sr predict`, `serve`, `export`)."""
    config, weights = read(model_dir, "package")
    model = _build(Predictor, PredictorConfig.from_dict, config, weights, Path(model_dir))
    return model.to(device).eval(), config.to_json()


def load_emotion_model(model_dir, device="cpu") -> EmotionModel:
    """The fine-tuned emotion model (stage `evaluate`), in eval mode."""
    config, weights = read(model_dir, "finetune", "fine-tuned")
    return _build(EmotionModel, EmotionModelConfig.from_dict, config, weights, Path(model_dir)).to(device).eval()


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


# -------------------------------------------------------------------------------------------- packaging
def package_model(pretrain_dir, finetune_dir, out_dir, trained_on_demo: bool = False,
                  card: Callable[[dict], str] | None = None) -> PredictorConfig:
    """Combine a pre-training directory (transcript + text sentiment) and a fine-tuning directory (emotion) into
    the packaged `out_dir`; `card(config.json)` renders its README.md."""
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
    state = {f"asr.{k}": v for k, v in pre_w.items()}
    state.update({f"regressor.{k[len('regressor.'):]}": v for k, v in ft_w.items() if k.startswith("regressor.")})
    if not share:
        state.update({f"emotion_encoder.{k[len('encoder.'):]}": v for k, v in enc_ft.items()})
    elif own:
        state["emotion_layer_weights"] = enc_ft["encoder.layer_weights"]
    Predictor(cfg).load_state_dict(state)  # fails loudly here, not at predict time, if anything does not fit
    pre_train = pre.provenance.get("pretrain") or {}
    config = ModelDirConfig("package", cfg.to_dict(), pre.features, pre.normalization, ft.labels,
                            list(SENTIMENT_CLASSES), {"pretrain": pre_train or None, "finetune": ft_train,
                                                      "lambda": pre_train.get("lambda_")}, trained_on_demo)
    with atomic_dir(out_dir) as tmp:
        _write(tmp, {k: v.contiguous() for k, v in state.items()}, config)
        if card is not None:
            (tmp / "README.md").write_text(card(config.to_json()))
    return cfg


def trained_on_demo(info: dict) -> bool:
    """Whether a model card's data (prepare summaries, evaluation) say the model was trained on the demo corpus."""
    ev, data = info.get("eval") or {}, info.get("data") or {}
    return ev.get("data") == "demo" or any(v.get("source") == "demo" for v in data.values())


def demo_notice(config: dict) -> str | None:
    """What `sa2sr predict`, `sa2sr serve` and its page say about a model trained on the demo corpus, or on a named
    random SSL backbone (random-tiny / random-base)."""
    notes = []
    if config.get("trained_on_demo"):
        notes.append("DEMO MODEL: trained on the synthetic demo corpus; on real speech its scores are at chance level. "
                     "Train on real corpora (README: Real corpora) before reading anything into them.")
    enc = ((config.get("model") or {}).get("asr") or {}).get("encoder") or {}
    if enc.get("kind") == "ssl" and (enc.get("ssl") or {}).get("model") in RANDOM_BACKBONES:
        notes.append(f"RANDOM SSL BACKBONE: {enc['ssl']['model']} was never self-supervised pre-trained (a named "
                     f"random configuration for the demo and the tests).")
    return " ".join(notes) or None
