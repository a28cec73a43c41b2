"""Every model directory sa2sr writes or reads, through one typed schema (ModelDirConfig, its config.json):

    models/pretrain/    kind "pretrain": the SA2SR network (encoder + CTC head + sentiment head)
    models/finetune/    kind "finetune": the emotion model (encoder + regressor)
    models/sa2sr/       kind "package": both, for `sa2sr predict` / `serve` / `export` (stage `package`)
      model.safetensors   the weights (CPU tensors)
      config.json         ModelDirConfig: format, the model config that builds the network, features,
                          normalisation, label scale, sentiment classes, provenance
      vocab.json          the 29 CTC symbols (pretrain and package)
      README.md           the model card (package; rendered by sa2sr_core.evaluation.card)

Written atomically, read with named errors (ModelDirError: the file and what to do), never by another module;
no network class is imported here (sa2sr_core.models.loaders builds them from what `read` returns), so writing a
pre-training directory does not depend on the emotion or inference models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.config.models import RANDOM_BACKBONES
from sa2sr_core.errors import Sa2srError
from sa2sr_core.io import atomic_path, write_json
from sa2sr_core.names import CHARS, DIMS, SENTIMENT_CLASSES

#: config.json's `format` for each kind of model directory (the packaged one's is what `sa2sr predict` checks).
FORMATS = {"pretrain": "sa2sr-pretrain/1", "finetune": "sa2sr-finetune/1", "package": "sa2sr-model/2"}
FORMAT = FORMATS["package"]
#: The packaged format before the pre-training network was named `sa2sr` in it (it was `asr`): still read.
PACKAGE_V1 = "sa2sr-model/1"
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
    finetuned_on: str | None = None  # package: the fine-tuning data (demo, a corpus's name, a manifest's path)

    def __post_init__(self):
        if self.kind not in FORMATS:
            raise ValueError(f"model directory kind must be one of {tuple(FORMATS)}, got {self.kind!r}")

    @property
    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)

    @property
    def scale(self) -> tuple[float, float]:
        """The A/V/D scale the emotion heads were trained and report on (fine-tuning and packaged directories)."""
        if not self.labels:
            raise ModelDirError(f"a {self.kind} model directory has no label scale")
        low, high = self.labels["scale"]
        return float(low), float(high)

    def to_json(self) -> dict:
        d = {"format": FORMATS[self.kind], **asdict(self)}
        del d["kind"]
        if self.kind != "package":
            del d["trained_on_demo"], d["finetuned_on"]
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
        elif fmt == PACKAGE_V1 and isinstance(d.get("model"), dict):
            found, d = "package", {**d, "model": {("sa2sr" if k == "asr" else k): v for k, v in d["model"].items()}}
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


def pretrain_dir_config(model: torch.nn.Module, features: FeatureConfig, training: dict | None = None) -> ModelDirConfig:
    return ModelDirConfig("pretrain", model.cfg.to_dict(), asdict(features), {"type": features.normalize},
                          sentiment_classes=list(SENTIMENT_CLASSES), provenance={"pretrain": training})


def finetune_dir_config(model: torch.nn.Module, features: FeatureConfig, scale: tuple[float, float],
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
    write_files(out_dir, {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, config)


def write_files(out_dir: Path, state: dict, config: ModelDirConfig) -> None:
    """model.safetensors (state), config.json and, but for fine-tuning, vocab.json into out_dir, each atomically."""
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
    raw = _read_json(d / "config.json")
    config = ModelDirConfig.from_json(raw, d / "config.json", kind)
    if kind != "finetune" and tuple(_read_json(d / "vocab.json").get("chars") or ()) != CHARS:
        raise ModelDirError(f"{d / 'vocab.json'}: vocabulary differs from this version's 29 symbols")
    weights = _read_weights(d / "model.safetensors")
    if raw.get("format") == PACKAGE_V1:  # the pre-training network's weights were under `asr.`
        weights = {("sa2sr." + k[4:] if k.startswith("asr.") else k): v for k, v in weights.items()}
    return config, weights


def trained_on_demo(info: dict) -> bool:
    """Whether a model card's data (prepare summaries, evaluation) say the model was trained on the demo corpus."""
    ev, data = info.get("eval") or {}, info.get("data") or {}
    return ev.get("data") == "demo" or any(v.get("source") == "demo" for v in data.values())


def demo_pretraining_only(trained_on_demo: bool, finetuned_on: str | None) -> bool:
    """Whether the demo corpus was only the pre-training's: the emotion heads were fine-tuned on real data (your
    manifest, a real corpus release), so the model is not at chance on real speech, but it is not the paper's."""
    return trained_on_demo and finetuned_on not in (None, "demo")


def demo_notice(config: ModelDirConfig) -> str | None:
    """What `sa2sr predict`, `sa2sr serve` and its page say about a model trained on the demo corpus (all of it, or
    only its pre-training), or on a named random SSL backbone (random-tiny / random-base)."""
    notes = []
    if demo_pretraining_only(config.trained_on_demo, config.finetuned_on):
        notes.append("DEMO PRE-TRAINING: the encoder was pre-trained on the synthetic demo corpus, not on "
                     f"LibriSpeech; the emotion heads were fine-tuned on {config.finetuned_on}. Its scores are worth what that "
                     "fine-tuning's test figures say (model card), not the paper's: pre-train on real LibriSpeech "
                     "(README: Real corpora) for an SA2SR model.")
    elif config.trained_on_demo:
        notes.append("DEMO MODEL: trained on the synthetic demo corpus; on real speech its scores are at chance level. "
                     "Train on real corpora (README: Real corpora) before reading anything into them.")
    enc = (config.model.get("sa2sr") or {}).get("encoder") or {}
    if enc.get("kind") == "ssl" and (enc.get("ssl") or {}).get("model") in RANDOM_BACKBONES:
        notes.append(f"RANDOM SSL BACKBONE: {enc['ssl']['model']} was never self-supervised pre-trained (a named "
                     f"random configuration for the demo and the tests).")
    return " ".join(notes) or None
