"""params.yaml -> typed configs. Stages and the CLI read parameters only through here."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sa2sr_core.corpora.demo import DEMO_ROOTS, DemoConfig
from sa2sr_core.features import FbankConfig

T = TypeVar("T")
CORPORA = ("librispeech", "iemocap", "msp_podcast")


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run from the project root (where params.yaml is)")
    return yaml.safe_load(path.read_text()) or {}


def build(cls: type[T], section: dict | None) -> T:
    """Build dataclass `cls` from a params section; unknown keys are an error, not silently ignored."""
    section = dict(section or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(section) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} parameters {unknown}; known: {sorted(names)}")
    return cls(**section)


def fbank_config(params: dict) -> FbankConfig:
    keys = {f.name for f in dataclasses.fields(FbankConfig)}
    return build(FbankConfig, {k: v for k, v in params["features"].items() if k in keys})


def demo_config(params: dict) -> DemoConfig:
    return build(DemoConfig, params.get("demo"))


def check_corpus(corpus: str) -> str:
    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}; expected one of {', '.join(CORPORA)}")
    return corpus


def demo_corpus_dir(params: dict, corpus: str) -> Path:
    """Where stage demo_data@<corpus> writes (one DVC output per corpus: data.demo_dir/<corpus>)."""
    return Path(params["data"]["demo_dir"]) / check_corpus(corpus)


def corpus_root(params: dict, corpus: str) -> tuple[Path, bool]:
    """(root a reader is pointed at, whether it is the demo)."""
    path = params["data"].get(check_corpus(corpus))
    if path:
        return Path(path), False
    return demo_corpus_dir(params, corpus) / DEMO_ROOTS[corpus], True


#: The per-corpus summaries the data stages write under data.summaries_dir (outputs, not DVC metrics).
SUMMARY_KINDS = ("prepare", "features", "labels")


def summary_path(params: dict, kind: str, corpus: str) -> Path:
    if kind not in SUMMARY_KINDS:
        raise ValueError(f"unknown summary {kind!r}; expected one of {SUMMARY_KINDS}")
    return Path(params["data"]["summaries_dir"]) / f"{kind}_{check_corpus(corpus)}.json"


def read_summaries(params: dict, kind: str, corpora=None) -> dict[str, dict]:
    """{corpus: summary} of one kind, for the corpora given (default: those whose summary exists)."""
    import json

    corpora = corpora if corpora is not None else [c for c in CORPORA if summary_path(params, kind, c).is_file()]
    out = {}
    for c in corpora:
        path = summary_path(params, kind, c)
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run `dvc repro` (stage {kind if kind != 'labels' else 'pseudo_label'}@{c})")
        out[c] = json.loads(path.read_text())
    return out


def pretrain_configs(params: dict):
    """(PretrainConfig, SA2SRConfig) from params `pretrain`, top-level `lambda` and `seed`."""
    from sa2sr_core.models.encoder import EncoderConfig
    from sa2sr_core.models.sa2sr import SA2SRConfig
    from sa2sr_core.pretrain import PretrainConfig

    p = dict(params["pretrain"])
    enc = build(EncoderConfig, {"input_dim": params["features"]["num_mel_bins"], **p.pop("encoder", {})})
    model = SA2SRConfig(encoder=enc, summarizer_hidden=p.pop("summarizer_hidden", 128))
    for k in ("corpus", "model_dir", "live_dir", "metrics", "summary", "ddp_backend", "launcher"):
        p.pop(k, None)
    cfg = build(PretrainConfig, {**p, "lambda_": float(params["lambda"]), "seed": int(params["seed"])})
    return cfg, model


def finetune_configs(params: dict):
    """(FinetuneConfig, EmotionModelConfig) from params `finetune`, `pretrain.encoder` and `seed`."""
    from sa2sr_core.finetune import FinetuneConfig
    from sa2sr_core.models.encoder import EncoderConfig
    from sa2sr_core.models.regressor import EmotionModelConfig, RegressorConfig

    p = dict(params["finetune"])
    enc = build(EncoderConfig, {"input_dim": params["features"]["num_mel_bins"], **params["pretrain"].get("encoder", {})})
    reg = dict(p.pop("regressor", {}))
    for k in ("kernels", "strides"):
        if k in reg:
            reg[k] = tuple(reg[k])
    if reg.pop("utterance_stats", False):  # the functionals normalisation removed, beside the sequence
        from sa2sr_core.functionals import num_functionals

        reg["stats_dim"] = num_functionals(params["features"]["num_mel_bins"])
    model = EmotionModelConfig(enc, build(RegressorConfig, {"input_dim": enc.output_dim, **reg}))
    for k in ("corpus", "model_dir", "live_dir", "metrics", "summary"):
        p.pop(k, None)
    seed = int(params["seed"]) + int(p.pop("seed_offset", 0))  # seed sweeps of fine-tuning alone
    return build(FinetuneConfig, {**p, "seed": seed}), model
