"""`sa2sr reproduce`: the paper's study in one command, as DVC experiments run in the workspace.

Table 1 (IEMOCAP text sentiment x emotion) and the five settings of Tables 2-4 (no pre-training, ASR
features lambda = 0, SA2SR features, both frozen), each with N pre-training seeds fine-tuned once per seed; with
--text gold,asr also ASR / SA2SR features + text per text source and the text-only baselines (Table 5).
Every finished run's metrics and predictions are kept under --out/runs/<setting>_seed<k>/; a re-run skips
them, so an interrupted study resumes where it stopped and a finished one does nothing. Runs go
pre-training by pre-training (each lambda/seed trains once; its fine-tunings follow while its persisted
model is in the workspace), seed 0's SA2SR run last, so with the `demo` profile the workspace ends on
params.yaml's own setting.

With --devices (cuda:0,cuda:1,... or cpu,cpu) the study runs one experiment per device at once: each device's
worker takes whole pre-training groups in its own workspace (sa2sr_core.study.workers); the runs and tables are
those of the sequential study.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, Callable

import yaml

from sa2sr_core.config.check import check_overrides
from sa2sr_core.errors import Sa2srError
from sa2sr_core.io import atomic_dir, write_json, write_text
from sa2sr_core.corpora.finetuning import NAMED, finetune_corpus
from sa2sr_core.params import CORPORA, load_params, load_profile, with_overrides
from sa2sr_core.study.workers import WORKERS_DIR, device_env, run_on_devices

#: Setting -> (pre-training: "asr" = lambda 0, "sa2sr" = the profile's lambda), fine-tuning init, frozen encoder.
SETTINGS = {
    "scratch": ("asr", "scratch", False),
    "asr": ("asr", "pretrained", False),
    "asr_frozen": ("asr", "pretrained", True),
    "sa2sr": ("sa2sr", "pretrained", False),
    "sa2sr_frozen": ("sa2sr", "pretrained", True),
}
#: Run order within one pre-training seed: the lambda = 0 group, then SA2SR; each group's fine-tunings share
#: its pre-training. The last run is SA2SR fine-tuned: params.yaml's own setting.
ORDER = ("scratch", "asr_frozen", "asr", "sa2sr_frozen", "sa2sr")
#: Words beside sound (`--text SOURCE`, docs/text.md): ASR features + text and SA2SR features + text per text source
#: (finetune.text.source gold | asr); each run's eval.json also scores the text-only baseline of that source.
TEXT_SOURCES = ("gold", "asr")


def text_setting(pre: str, source: str) -> str:
    return f"{pre}_text_{source}"


class ReproduceError(Sa2srError):
    """Bad input to `sa2sr reproduce` (said before any training starts), or a run of the study that failed."""


@dataclass
class ReproduceConfig:
    out: Path
    profile: str = "paper"                       # profiles/<name>.yaml, or "demo": params.yaml as it is
    seeds: int = 3                               # pre-training seeds per lambda: seed, seed + 1, ...
    corpora: dict[str, str | None] = field(default_factory=dict)  # corpus -> root (None: the demo)
    sets: dict[str, Any] = field(default_factory=dict)           # extra params overrides (dotted keys)
    finetune_corpus: str | None = None  # msp_podcast (the paper) | iemocap (its five folds) | a manifest's path
    targets: tuple[str, ...] = ("evaluate", "correlate")
    text: tuple[str, ...] = ()  # text sources of the "+ text" rows (gold, asr); none: the paper's study alone
    devices: tuple[str, ...] = ()  # one worker per device (cpu | cuda:K), runs at once; none: one at a time here

    def __post_init__(self):
        bad = [t for t in self.text if t not in TEXT_SOURCES]
        if bad or len(set(self.text)) != len(self.text):
            raise ReproduceError(f"--text {','.join(self.text)}: each of {', '.join(TEXT_SOURCES)} at most once")
        wrong = [d for d in self.devices if not re.fullmatch(r"cpu|cuda:\d+", d)]
        if wrong:
            raise ReproduceError(f"--devices {','.join(self.devices)}: {', '.join(wrong)} is not a device (cpu or "
                                 "cuda:K, e.g. cuda:0,cuda:1)")

    @property
    def settings(self) -> list[str]:
        return [*SETTINGS, *(text_setting(p, t) for t in self.text for p in ("asr", "sa2sr"))]


@dataclass
class Run:
    setting: str
    seed_index: int
    overrides: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.setting}_seed{self.seed_index}"


# ---------------------------------------------------------------------------------------------- overrides
def format_value(v: Any) -> str:
    """A value for `dvc exp run -S key=value` (parsed as YAML by DVC)."""
    if isinstance(v, str):
        return json.dumps(v) if yaml.safe_load(v) != v or v == "" else v  # quote what YAML would not read back
    if isinstance(v, float):
        s = repr(v)
        mant, e, exp = s.partition("e")
        return f"{mant}.0e{exp}" if e and "." not in mant else s  # 5e-05 is a string to YAML 1.1, 5.0e-05 a float
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    return json.dumps(v)


def parse_sets(items: list[str]) -> dict[str, Any]:
    out = {}
    for it in items:
        key, sep, value = it.partition("=")
        if not sep or not key:
            raise ReproduceError(f"--set {it!r}: expected KEY=VALUE (a dotted params.yaml key)")
        out[key.strip()] = yaml.safe_load(value)
    return out


# ------------------------------------------------------------------------------------------------- plan
def base_overrides(cfg: ReproduceConfig, params: dict, project: Path) -> dict[str, Any]:
    """Profile, then corpus roots, then --set: what every run of the study shares."""
    prof = load_profile(cfg.profile, project)
    check_overrides(params, prof, f"profile {cfg.profile}")
    check_overrides(params, cfg.sets, "--set")
    corpora = {f"data.{c}": str(Path(p).resolve()) for c, p in cfg.corpora.items() if p}
    ft = {}
    if cfg.finetune_corpus:
        corpus = cfg.finetune_corpus
        if corpus not in NAMED:
            if not Path(corpus).is_file():
                raise ReproduceError(f"--finetune-corpus {corpus}: neither {' nor '.join(NAMED)} nor a "
                                     "manifest file")
            corpus = str(Path(corpus).resolve())
        ft = {"finetune.corpus": corpus}
    return {**prof, **corpora, **ft, **cfg.sets}


def study_split(shared: dict[str, Any], params: dict) -> str | None:
    """The test set Tables 2-4 report: MSP-Podcast's test1, IEMOCAP's pooled folds, a manifest's first test split
    (None: decided from the runs' eval.json)."""
    corpus = shared.get("finetune.corpus", params["finetune"]["corpus"])
    return finetune_corpus(with_overrides(params, {"finetune.corpus": corpus})).study_split


def plan_runs(cfg: ReproduceConfig, params: dict, shared: dict[str, Any]) -> list[Run]:
    if cfg.seeds < 1:
        raise ReproduceError(f"--seeds {cfg.seeds}: need at least one pre-training seed")
    lam = float(shared.get("lambda", params["lambda"]))
    if lam <= 0:
        raise ReproduceError(f"lambda = {lam}: SA2SR needs lambda > 0 (lambda 0 is the ASR-features setting)")
    base_seed = int(shared.get("seed", params["seed"]))
    runs = []
    for k in reversed(range(cfg.seeds)):  # seed 0 last: the workspace ends on the params' own seed
        order = [*ORDER[:3], *(text_setting("asr", t) for t in cfg.text), ORDER[3],
                 *(text_setting("sa2sr", t) for t in cfg.text), ORDER[4]]
        for setting in order:
            pre, init, frozen = SETTINGS[setting] if setting in SETTINGS else (setting.split("_")[0], "pretrained", False)
            text = {"finetune.text.source": setting.rsplit("_", 1)[1]} if "_text_" in setting else \
                ({"finetune.text.source": "none"} if cfg.text else {})
            runs.append(Run(setting, k, {**shared, "lambda": 0.0 if pre == "asr" else lam, "seed": base_seed + k,
                                         "finetune.init": init, "finetune.freeze_encoder": frozen,
                                         "finetune.seed_offset": 0, **text}))
    return runs


def check_corpora(corpora: dict[str, str | None], log: Callable[[str], None] = print) -> None:
    """Every given root has its corpus's layout and the splits the study needs; None means the demo."""
    from sa2sr_core.corpora.layout import check_layout
    from sa2sr_core.corpora.librispeech import CorpusLayoutError

    for corpus in CORPORA:
        root = corpora.get(corpus)
        if root is None:
            log(f"{corpus}: the built-in demo (no --{corpus.replace('_', '-')} given)")
            continue
        try:
            found = check_layout(corpus, root)
        except CorpusLayoutError as e:
            raise ReproduceError(f"--{corpus.replace('_', '-')}: {e}") from None
        log(f"{corpus}: {root} ({', '.join(sorted(found))})")


def check_plan(out: Path, plan: dict) -> None:
    """A study directory holds one plan: resuming with other settings would mix runs of two studies."""
    path = out / "plan.json"
    if path.is_file():
        old = json.loads(path.read_text())
        diff = sorted(k for k in set(old) | set(plan) if old.get(k) != plan.get(k))
        if diff:
            raise ReproduceError(f"{out} holds a study with other settings ({', '.join(diff)} differ: "
                                 f"{ {k: old.get(k) for k in diff} } vs { {k: plan.get(k) for k in diff} }); "
                                 "choose another --out or remove it")


# -------------------------------------------------------------------------------------------- execution
def experiment_name(out: Path, run: Run, existing: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", out.name).strip("-") or "study"
    name, i = f"{base}-{run.setting}-s{run.seed_index}", 2
    while name in existing:  # an earlier attempt saved this name but was not collected
        name, i = f"{base}-{run.setting}-s{run.seed_index}-{i}", i + 1
    return name


def existing_experiments(project: Path) -> set[str]:
    res = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], cwd=project,
                         capture_output=True, text=True)
    return {r.rsplit("/", 1)[-1] for r in res.stdout.split()}


def dvc_command(name: str, overrides: dict[str, Any], targets: tuple[str, ...]) -> list[str]:
    cmd = ["dvc", "exp", "run", "-n", name]
    for k, v in overrides.items():
        cmd += ["-S", f"{k}={format_value(v)}"]
    return cmd + list(targets)


def run_subprocess(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
    """Run one experiment: DVC's log on stderr (stdout is the tables), or into log_path (a worker's run)."""
    full_env = {**os.environ, **(env or {})}
    if log_path is None:
        res = subprocess.run(cmd, cwd=cwd, stdout=sys.stderr, env=full_env)
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as f:
            res = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=full_env)
    if res.returncode != 0:
        where = f" in {cwd}" + (f" (its log: {log_path})" if log_path else "")
        raise ReproduceError(f"`{' '.join(cmd)}` failed{where} (exit {res.returncode}); fix the cause and run the "
                             "same `sa2sr reproduce` again: finished runs are kept")


def collect_run(run_dir: Path, params: dict, project: Path, run: Run, name: str) -> None:
    """The run's metrics and predictions from the workspace into run_dir (written whole or not at all)."""
    files = {"eval.json": params["evaluate"]["metrics"], "ccc.json": params["evaluate"]["scores"],
             "predictions.parquet": params["evaluate"]["predictions"], "pretrain.json": params["pretrain"]["summary"],
             "finetune.json": params["finetune"]["summary"]}
    if str(run.overrides.get("finetune.text.source", "none")) != "none":  # the text route's summary (ASR: WER / CER)
        from sa2sr_core.config.text import text_baseline_path, text_summary_path

        files.update({"text.json": text_summary_path(params), "text_baseline.parquet": text_baseline_path(params)})
    with atomic_dir(run_dir) as tmp:
        for dst, src in files.items():
            shutil.copy2(project / src, tmp / dst)
        write_json(tmp / "run.json", {"experiment": name, "setting": run.setting, "seed_index": run.seed_index,
                                      "overrides": run.overrides})


def collect_shared(out: Path, params: dict, project: Path) -> None:
    """Table 1 (correlate) and the baseline's predictions: the same in every run of a study."""
    if not (out / "table1").is_dir():
        c = params["correlate"]
        with atomic_dir(out / "table1") as tmp:
            for src in (c["json"], c["table_csv"], c["heatmap"]):
                shutil.copy2(project / src, tmp / Path(src).name)
    if not (out / "baseline").is_dir():
        with atomic_dir(out / "baseline") as tmp:
            shutil.copy2(project / params["baseline"]["predictions"], tmp / "predictions.parquet")
            shutil.copy2(project / params["evaluate"]["metrics"], tmp / "eval.json")


# --------------------------------------------------------------------------------------------- devices
def pretraining_groups(runs: list[Run]) -> list[list[Run]]:
    """Consecutive runs that share a pre-training (lambda and seed), in plan order."""
    return [list(g) for _, g in groupby(runs, key=lambda r: (r.overrides["lambda"], r.overrides["seed"]))]


def reproduce(cfg: ReproduceConfig, project: Path = Path("."), runner=run_subprocess,
              log: Callable[[str], None] = print, estimate: bool = True) -> dict:
    """Run (or resume) the study; returns {ran, skipped, tables}."""
    project = Path(project)
    params_path = project / "params.yaml"
    params = load_params(params_path)
    check_corpora(cfg.corpora, log)
    shared = base_overrides(cfg, params, project)
    runs = plan_runs(cfg, params, shared)
    out = Path(cfg.out)
    plan = {"profile": cfg.profile, "shared_overrides": shared, "settings": cfg.settings}
    if "finetune.corpus" in shared:  # another fine-tuning corpus: its own test set (older plans stay as they were)
        plan["split"] = study_split(shared, params)
    check_plan(out, plan)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "plan.json", plan)
    if estimate and not (out / "estimate.json").is_file():  # measured once per study
        from sa2sr_core.study.estimate import estimate_pretraining

        # the demo and quick budgets say nothing about the real study's cost: they are measured with the paper's
        # settings (and the study's own encoder); a real profile (paper, ssl) is measured as it runs
        small = cfg.profile in ("demo", "quick")
        over = {**shared, **load_profile("paper", project)} if small else shared
        write_json(out / "estimate.json", estimate_pretraining(project, cfg.corpora, over,
                                                                f"paper ({cfg.profile} study)" if small else cfg.profile,
                                                                log))
    todo = [r for r in runs if not (out / "runs" / r.key).is_dir()]
    log(f"study {out}: {len(runs)} runs ({cfg.seeds} pre-training seed(s) x {len(cfg.settings)} settings), "
        f"{len(runs) - len(todo)} done, {len(todo)} to run")
    original = params_path.read_text()
    existing, names = existing_experiments(project) if todo else set(), {}
    for run in todo:
        names[run.key] = experiment_name(out, run, existing)
        existing.add(names[run.key])

    def run_one(run: Run, ws: Path, device: str | None = None) -> None:
        """One experiment in workspace ws (the project's own, or a worker's on `device`)."""
        (ws / "params.yaml").write_text(original)  # every run starts from the user's params.yaml
        cmd = dvc_command(names[run.key], run.overrides, cfg.targets)
        if device is None:
            runner(cmd, ws)
        else:
            log(f"[{device}] {run.key}: dvc exp run -n {names[run.key]}")
            runner(cmd, ws, env=device_env(device), log_path=out / "logs" / f"{run.key}.log")

    def collect(run: Run, ws: Path) -> None:
        run_params = with_overrides(params, run.overrides)  # where this run's outputs are
        collect_shared(out, run_params, ws)
        collect_run(out / "runs" / run.key, run_params, ws, run, names[run.key])

    try:
        if cfg.devices and todo:
            log(f"{len(cfg.devices)} workers ({', '.join(cfg.devices)}), each in its own workspace under "
                f"{project / WORKERS_DIR}; every run's DVC log under {out / 'logs'}")
            run_on_devices(cfg.devices, pretraining_groups(todo), project, run_one,
                           lambda run, ws: (collect(run, ws), log(f"{run.key}: done")))
        else:
            for i, run in enumerate(todo, 1):
                log(f"[{i}/{len(todo)}] {run.key}: dvc exp run -n {names[run.key]}")
                run_one(run, project)
                collect(run, project)
    finally:
        params_path.write_text(original)

    from sa2sr_core.evaluation.tables import render_study

    tables = render_study(out, plan.get("split"))
    write_text(out / "tables.md", tables)
    log(f"tables: {out / 'tables.md'}")
    return {"ran": len(todo), "skipped": len(runs) - len(todo), "tables": str(out / "tables.md")}
