"""params.yaml: reading it (the keys that are paths and plain values type-checked), dotted overrides, profiles,
and where each stage's inputs and outputs are. The config sections are built and checked by the config modules
(sa2sr_core.config.*) of the stages that read them; sa2sr_core.config.check checks the whole file at once."""

from __future__ import annotations

import copy
from dataclasses import dataclass
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
                                      "speed_perturb_corpus")},
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


#: finetune.corpus values that name a corpus fine-tuning reads from its official layout (anything else: a manifest).
FINETUNE_CORPORA = ("msp_podcast", "iemocap")
#: IEMOCAP's label scale (EmoEvaluation's [V, A, D] on 1-5): fine-tuning on IEMOCAP uses it, not finetune.scale_*.
IEMOCAP_SCALE = (1.0, 5.0)


def finetune_corpus(params: dict) -> str:
    """The name of the fine-tuning corpus's data: msp_podcast (its own features@msp_podcast), or OWN for IEMOCAP's
    folds and for a manifest file (stage own_corpus writes either as the manifest of corpus OWN)."""
    return "msp_podcast" if params["finetune"]["corpus"] == "msp_podcast" else OWN


def finetune_data_name(params: dict) -> str:
    """What evaluation and the model card call the fine-tuning data: demo (a built-in demo corpus), the corpus's
    name (its real release), or the path of your manifest."""
    corpus = params["finetune"]["corpus"]
    if corpus in FINETUNE_CORPORA:
        return "demo" if corpus_root(params, corpus)[1] else corpus
    return corpus


def label_scale(params: dict) -> tuple[float, float]:
    """The A/V/D scale of the fine-tuning corpus: IEMOCAP's 1-5, else finetune.scale_min..scale_max."""
    if params["finetune"]["corpus"] == "iemocap":
        return IEMOCAP_SCALE
    return float(params["finetune"]["scale_min"]), float(params["finetune"]["scale_max"])


@dataclass(frozen=True)
class Fold:
    """One train / Development / test partition of the fine-tuning corpus, by split names of its manifest.

    name: None for a corpus with one partition (MSP-Podcast, your own manifest); fold-<k> for IEMOCAP's
    leave-one-session-out fold k. A part may be several splits (a fold trains on three sessions)."""

    name: Union[str, None]
    train: tuple[str, ...]
    validation: tuple[str, ...]
    tests: tuple[str, ...]


def iemocap_session_split(session: int) -> str:
    """The split name of IEMOCAP Session<k> in the fine-tuning manifest (stage own_corpus)."""
    return f"session{session}"


def iemocap_fold(k: int) -> Fold:
    """Leave one session out: test on Session k, select on Session k+1 (Session 1 for k = 5), train on the other
    three. Development is a whole held-out session, so it is speaker-independent like the test (docs/own-data.md)."""
    if k not in range(1, 6):
        raise ParamsError(f"finetune.folds: IEMOCAP has sessions 1-5 (the test session of each fold), got {k!r}")
    dev = k % 5 + 1
    return Fold(f"fold-{k}", tuple(iemocap_session_split(s) for s in range(1, 6) if s not in (k, dev)),
                (iemocap_session_split(dev),), (iemocap_session_split(k),))


def finetune_folds(params: dict) -> list[Fold]:
    """The fine-tuning corpus's partitions: IEMOCAP's folds (finetune.folds: their test sessions); otherwise one,
    train / validation (Development) / the test splits."""
    corpus = params["finetune"]["corpus"]
    if corpus == "iemocap":
        folds = params["finetune"].get("folds") or [1, 2, 3, 4, 5]
        check_type("finetune.folds", folds, list[int])
        if len(set(folds)) != len(folds):
            raise ParamsError(f"finetune.folds: a session named twice: {folds}")
        return [iemocap_fold(k) for k in folds]
    if corpus == "msp_podcast":
        return [Fold(None, ("train",), ("validation",), tuple(params["evaluate"]["splits"]))]
    tests = sorted(set(load_manifest(params, OWN)["split"]) - {"train", "validation"})
    return [Fold(None, ("train",), ("validation",), tuple(tests))]


def packaged_fold(params: dict) -> Union[Fold, None]:
    """The fold whose model stage package ships: IEMOCAP's first fold; None for a corpus with one partition (read
    from params alone, so packaging does not read the fine-tuning manifest)."""
    return finetune_folds(params)[0] if params["finetune"]["corpus"] == "iemocap" else None


def fold_dirs(params: dict, splits: tuple[str, ...]):
    """The feature folder(s) of a fold's part: one folder, or a tuple of them (shard_files reads either)."""
    corpus = finetune_corpus(params)
    dirs = tuple(split_dir(params, corpus, s) for s in splits)
    return dirs[0] if len(dirs) == 1 else dirs


def fold_path(base: str | Path, fold: Union[Fold, None]) -> Path:
    """Where a fold's output goes under a stage's output folder (the folder itself for a single partition: a fold
    without a name, or None)."""
    return Path(base) if fold is None or fold.name is None else Path(base) / fold.name


def load_manifest(params: dict, corpus: str):
    """The corpus's manifest (stage prepare@<corpus>) as a DataFrame."""
    import pandas as pd

    path = manifest_path(params, corpus)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} not found: run `dvc repro prepare` first")
    return pd.read_parquet(path)


def split_dir(params: dict, corpus: str, split: str) -> Path:
    """Where a split's feature shards are (stage features@<corpus>)."""
    return Path(params["data"]["features_dir"]) / corpus / split


def labels_path(params: dict, corpus: str) -> Path:
    """The corpus's pseudo-labels (stage pseudo_label@<corpus>)."""
    return Path(params["data"]["labels_dir"]) / f"{corpus}.parquet"


#: The per-corpus summaries the data stages write under data.summaries_dir (outputs, not DVC metrics).
SUMMARY_KINDS = ("prepare", "features", "labels")


def summary_path(params: dict, kind: str, corpus: str) -> Path:
    if kind not in SUMMARY_KINDS:
        raise ValueError(f"unknown summary {kind!r}; expected one of {SUMMARY_KINDS}")
    return Path(params["data"]["summaries_dir"]) / f"{kind}_{corpus if corpus == OWN else check_corpus(corpus)}.json"


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
