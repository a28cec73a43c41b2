"""params.yaml: reading it (the keys that are paths and plain values type-checked), dotted overrides, profiles,
and where each stage's inputs and outputs are. The config sections are built and checked by the config modules
(sa2sr_core.config.*) of the stages that read them; sa2sr_core.config.check checks the whole file at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Union

import yaml

from sa2sr_core.errors import ParamsError
from sa2sr_core.typecheck import check_type

CORPORA = ("librispeech", "iemocap", "msp_podcast")
#: The name a user's own corpus (finetune.corpus: the path of a manifest file) goes by: its manifest, shards and
#: summaries are data.manifests_dir/own.parquet, data.features_dir/own/<split>/, data.summaries_dir/*_own.json.
OWN = "own"
#: Each corpus's root folder in its official layout (the demo writes data.demo_dir/<corpus>/<root>).
DEMO_ROOTS = {"librispeech": "LibriSpeech", "iemocap": "IEMOCAP_full_release", "msp_podcast": "MSP-Podcast"}
PROFILES_DIR = "profiles"
_Path, _OptPath = str, Union[str, None]

#: Expected types of the params.yaml keys that no config dataclass checks (the dataclass sections check theirs).
PLAIN_TYPES: dict[str, Any] = {
    "seed": int, "lambda": float,
    **{f"data.{c}": _OptPath for c in CORPORA},
    **{f"data.{k}": _Path for k in ("demo_dir", "manifests_dir", "features_dir", "labels_dir", "summaries_dir",
                                      "timing_dir", "speed_perturb_corpus")},
    "data.max_utterances_per_split": Union[int, None], "data.feature_corpora": list[str],
    "readers.librispeech": dict, "readers.msp_podcast": dict,
    "readers.iemocap.validation_session": int, "readers.iemocap.test_session": int,
    "features.shard_max_seconds": float, "features.workers": int,
    "labeler.corpora": list[str],
    "correlate.merge_excited": bool, "correlate.groups": dict[str, int],
    **{f"correlate.{k}": _Path for k in ("table_csv", "heatmap", "json", "scores")},
    **{f"pretrain.{k}": _Path for k in ("corpus", "model_dir", "live_dir", "metrics", "summary", "ddp_backend",
                                          "launcher")},
    "pretrain.summarizer_hidden": int,
    **{f"finetune.{k}": _Path for k in ("corpus", "model_dir", "live_dir", "metrics", "summary")},
    "finetune.seed_offset": int, "finetune.folds": list[int], "finetune.regressor.utterance_stats": bool,
    "evaluate.splits": list[str], "evaluate.bootstrap": int,
    **{f"evaluate.{k}": _Path for k in ("metrics", "scores", "predictions", "scatter", "confusion")},
    "package.model_dir": _Path, "report.path": _Path, "report.curves": _Path, "report.runs_dir": _Path,
    "baseline.predictions": _Path, "baseline.metrics": _Path,
}


def load_params(path: str | Path = "params.yaml", validate: bool = True) -> dict[str, Any]:
    """params.yaml as a dict; validate: its path and plain keys are type-checked (each config section is checked
    where it is built, by the stage that reads it)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run from the project root (where params.yaml is)")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParamsError(f"{path} is not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(params).__name__}")
    if validate:
        check_plain_keys(params)
    return params


def check_plain_keys(params: dict) -> None:
    """The types of the keys no config dataclass checks (paths, corpus lists, the top-level seed and lambda)."""
    for key, tp in PLAIN_TYPES.items():
        try:
            value = get_dotted(params, key)
        except KeyError:
            continue
        check_type(key, value, tp)


# ------------------------------------------------------------------------------------ overrides, profiles
def get_dotted(params: dict, key: str) -> Any:
    node = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def set_dotted(params: dict, key: str, value: Any) -> None:
    *head, last = key.split(".")
    node = params
    for part in head:
        node = node[part]
    node[last] = value


def with_overrides(params: dict, overrides: dict[str, Any]) -> dict:
    out = copy.deepcopy(params)
    for k, v in overrides.items():
        set_dotted(out, k, v)
    return out


def load_profile(name: str, project: Path = Path(".")) -> dict[str, Any]:
    """profiles/<name>.yaml (flat `dotted.key: value` overrides of params.yaml); `demo` is params.yaml as is."""
    if name == "demo":
        return {}
    path = project / PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (project / PROFILES_DIR).glob("*.yaml"))
        raise ParamsError(f"no profile {name!r}: {path} does not exist; profiles: {['demo', *known]}")
    prof = yaml.safe_load(path.read_text()) or {}
    if not isinstance(prof, dict):
        raise ParamsError(f"{path}: expected a mapping of dotted params keys to values")
    return prof


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


def manifest_path(params: dict, corpus: str) -> Path:
    return Path(params["data"]["manifests_dir"]) / f"{corpus}.parquet"


def rejects_path(params: dict, corpus: str) -> Path:
    return Path(params["data"]["manifests_dir"]) / f"{corpus}_rejects.csv"


def split_dir(params: dict, corpus: str, split: str) -> Path:
    """Where a split's feature shards are (stage features@<corpus>)."""
    return Path(params["data"]["features_dir"]) / corpus / split


def labels_path(params: dict, corpus: str) -> Path:
    """The corpus's pseudo-labels (stage pseudo_label@<corpus>)."""
    return Path(params["data"]["labels_dir"]) / f"{corpus}.parquet"


#: The per-corpus summaries the data stages write under data.summaries_dir (outputs, not DVC metrics).
SUMMARY_KINDS = ("prepare", "features", "labels")


def timing_path(params: dict, stage: str) -> Path:
    """Where a stage writes its wall-clock times (data.timing_dir/<stage>.json): beside its outputs, never in them,
    since a time differs on every run and a DVC output that held one would change dvc.lock on every repro."""
    return Path(params["data"]["timing_dir"]) / f"{stage}.json"


def summary_path(params: dict, kind: str, corpus: str) -> Path:
    if kind not in SUMMARY_KINDS:
        raise ValueError(f"unknown summary {kind!r}; expected one of {SUMMARY_KINDS}")
    return Path(params["data"]["summaries_dir"]) / f"{kind}_{corpus if corpus == OWN else check_corpus(corpus)}.json"
