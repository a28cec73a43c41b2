"""The paper's Tables 2-4 as Markdown, our numbers (mean ± sd over seeds) beside the paper's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from sa2sr_core.names import DIMS

#: Paper values (MSP-Podcast test set, CCC).
PAPER = {
    "scratch": (0.603, 0.304, 0.511),
    "asr": (0.649, 0.393, 0.544),
    "sa2sr": (0.679, 0.412, 0.564),
    "asr_frozen": (0.503, 0.378, 0.438),
    "sa2sr_frozen": (0.508, 0.403, 0.483),
}
NAMES = {"baseline": "Baseline: ridge on LFBE functionals", "scratch": "No pre-training", "asr": "ASR features", "sa2sr": "SA2SR features",
         "asr_frozen": "ASR features (frozen)", "sa2sr_frozen": "SA2SR features (frozen)"}
TABLES = {
    "Table 2: ASR pre-training vs none": ["baseline", "scratch", "asr"],
    "Table 3: SA2SR vs ASR features": ["baseline", "asr", "sa2sr"],
    "Table 4: frozen vs fine-tuned encoders": ["asr_frozen", "asr", "sa2sr_frozen", "sa2sr"],
}


def summarize_runs(paths: list[str | Path], split: str, block: str | None = None
                   ) -> tuple[dict[str, tuple[float, float]], int, str]:
    """Mean and sd of CCC per dimension over eval.json files (one per seed); also n runs and data kind.
    block: read eval.json[block] (e.g. "baseline") instead of the model's own results."""
    vals = {d: [] for d in DIMS}
    kinds = set()
    for p in paths:
        top = json.loads(Path(p).read_text())
        res = top.get(block, {}) if block else top
        if split not in res:
            raise KeyError(f"{p} has no split {split!r}; it has {[k for k in res if isinstance(res[k], dict)]}")
        kinds.add(top.get("data", "?"))
        for d in DIMS:
            vals[d].append(res[split][d]["ccc"])
    stats = {d: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0) for d, v in vals.items()}
    return stats, len(paths), "/".join(sorted(kinds))


def render_tables(runs: dict[str, list[str | Path]], split: str = "test1") -> str:
    """runs: setting key (scratch, asr, sa2sr, asr_frozen, sa2sr_frozen) -> eval.json paths (one per seed)."""
    summary = {k: summarize_runs(v, split) for k, v in runs.items() if v}
    with_baseline = [p for v in runs.values() for p in v if "baseline" in json.loads(Path(p).read_text())]
    if with_baseline:  # deterministic given the data: the same in every run that has it
        stats, _, kind = summarize_runs(with_baseline[:1], split, "baseline")
        summary["baseline"] = (stats, 1, kind)
    lines = []
    for title, keys in TABLES.items():
        lines += [f"### {title}", "", "| model | data | runs | " + " | ".join(f"{d} (ours)" for d in DIMS) +
                  " | " + " | ".join(f"{d} (paper)" for d in DIMS) + " |", "|" + "---|" * 9]
        for k in keys:
            if k == "baseline" and k not in summary:
                continue
            paper = " | ".join(f"{x:.3f}" for x in PAPER[k]) if k in PAPER else "– | – | –"
            if k in summary:
                stats, n, kind = summary[k]
                ours = " | ".join(f"{m:.3f} ± {s:.3f}" if n > 1 else f"{m:.3f}" for m, s in (stats[d] for d in DIMS))
                lines.append(f"| {NAMES[k]} | {kind} | {n} | {ours} | {paper} |")
            else:
                lines.append(f"| {NAMES[k]} | – | 0 | – | – | – | {paper} |")
        lines.append("")
    return "\n".join(lines)


def data_table(data: dict) -> list[str]:
    """data/summaries/prepare_<corpus>.json, merged (corpus -> source, splits -> utterances / speakers / hours) as Markdown rows."""
    lines = ["| corpus | source | split | utterances | speakers | hours |", "|---|---|---|---:|---:|---:|"]
    for corpus, c in data.items():
        for split, x in c.get("splits", {}).items():
            lines.append(f"| {corpus} | {c.get('source')} | {split} | {x['utterances']} | {x['speakers']} | "
                         f"{x['hours']:.2f} |")
    return lines


def test_ccc_table(ev: dict) -> list[str]:
    """metrics/eval.json: CCC [bootstrap 95% CI] per dimension and mean, one row per test split and model
    (the fine-tuned model, and the classical baseline where eval.json has it)."""
    lines = ["| split | model | n | " + " | ".join((*DIMS, "mean")) + " |", "|---|---|---:|---|---|---|---|"]
    blocks = [("sa2sr", ev), *([("baseline (ridge)", ev["baseline"])] if isinstance(ev.get("baseline"), dict) else [])]
    for split in [k for k, r in ev.items() if isinstance(r, dict) and "mean" in r]:
        for name, block in blocks:
            r = block.get(split)
            if r:
                lines.append(f"| {split} | {name} | {r['n']} | " + " | ".join(
                    f"{r[d]['ccc']:.3f} [{r[d]['ci95'][0]:.3f}, {r[d]['ci95'][1]:.3f}]" for d in (*DIMS, "mean")) + " |")
    return lines


#: Paired comparisons (A vs B, same test utterances) shown under Tables 2-4.
COMPARISONS = [("asr", "scratch"), ("sa2sr", "asr"), ("sa2sr_frozen", "asr_frozen"), ("sa2sr", "sa2sr_frozen"),
               ("asr", "asr_frozen"), ("sa2sr", "baseline")]


def collect_study(runs_dir: str | Path) -> dict[str, list[Path]]:
    """Run directories of a study: <dir>/runs/<setting>_seed<k>/ (sa2sr reproduce) -> {setting: [dirs]}, and
    the baseline's predictions under "baseline" when <dir>/baseline/ exists."""
    runs: dict[str, list[Path]] = {}
    root = Path(runs_dir)
    for d in sorted((root / "runs").glob("*_seed*")) if (root / "runs").is_dir() else []:
        m = re.fullmatch(r"(.+)_seed\d+", d.name)
        if m and m.group(1) in NAMES and (d / "eval.json").is_file():
            runs.setdefault(m.group(1), []).append(d)
    if runs and (root / "baseline" / "predictions.parquet").is_file():
        runs["baseline"] = [root / "baseline"]
    return runs


def study_evals(study: dict[str, list[Path]]) -> dict[str, list[Path]]:
    """collect_study(...) -> {setting: [eval.json per run]} for render_tables (the baseline is not a setting)."""
    return {k: [d / "eval.json" for d in v] for k, v in study.items() if k != "baseline"}


def test_class_table(ev: dict) -> list[str]:
    """Markdown rows: UA / WA / macro-F1 [95% CI] per test split, model and logistic baseline (eval.json)."""
    def cell(m: dict) -> str:
        return "n/a" if m["value"] is None else f"{m['value']:.3f} [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]"

    rows = ["| split | model | n | UA | WA | macro-F1 |", "|---|---|---:|---|---|---|"]
    for split, r in ev.items():
        if not (isinstance(r, dict) and "categories" in r) or split == "baseline":
            continue
        for name, res in (("SA2SR", r), ("baseline (logistic)", (ev.get("baseline") or {}).get(split))):
            if res and "categories" in res:
                c = res["categories"]
                rows.append(f"| {split} | {name} | {c['n']} | {cell(c['ua'])} | {cell(c['wa'])} | {cell(c['macro_f1'])} |")
    return rows


def paired_table(runs: dict[str, list[Path]], split: str = "test1", n_boot: int = 1000, seed: int = 0) -> list[str]:
    """Markdown rows: per comparison, the seed-mean CCC difference per dimension with its paired bootstrap 95%
    interval (sa2sr_core.evaluation.significance), '*' where the interval excludes 0."""
    from sa2sr_core.evaluation.significance import aligned, paired_bootstrap

    preds = {k: [pd.read_parquet(d / "predictions.parquet") for d in v if (d / "predictions.parquet").is_file()]
             for k, v in runs.items()}
    lines = ["| comparison (A − B) | runs A / B | " + " | ".join(f"Δ {d}" for d in DIMS) + " |", "|---|---|---|---|---|"]
    for a, b in COMPARISONS:
        if not preds.get(a) or not preds.get(b):
            continue
        truth, p = aligned(preds[a] + preds[b], split, f"{a} vs {b}")
        res = paired_bootstrap(truth, p[: len(preds[a])], p[len(preds[a]):], n_boot, seed)
        cells = [f"{r['diff']:+.3f} [{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]{' *' if r['ci95'][0] > 0 or r['ci95'][1] < 0 else ''}"
                 for r in (res[d] for d in DIMS)]
        lines.append(f"| {NAMES[a]} − {NAMES[b]} | {len(preds[a])} / {len(preds[b])} | " + " | ".join(cells) + " |")
    return lines if len(lines) > 2 else []


def table1_section(t1_dir: Path) -> list[str]:
    corr = json.loads((t1_dir / "correlation.json").read_text())
    paper = corr.get("paper", {})
    t = pd.read_csv(t1_dir / "table1.csv")
    cols = list(t.columns)
    lines = ["### Table 1: text sentiment × speech emotion (IEMOCAP)", "", "| " + " | ".join(cols) + " |",
             "|" + "---|" * len(cols), *("| " + " | ".join(str(v) for v in row) + " |" for row in t.itertuples(index=False)),
             "", f"Spearman {corr['spearman']:.3f} (p = {corr['p_value']:.1e}), Cramér's V {corr['cramers_v']:.3f}, "
             f"n = {corr['n']} ({corr.get('data', '?')}, labeller {corr.get('labeler', '?')}); paper: Spearman "
             f"{paper.get('spearman_reported_in_paper_text', '?')} in its text, "
             f"{paper.get('spearman_from_paper_counts', float('nan')):.3f} from its Table 1 counts.", ""]
    return lines


def render_study(study_dir: str | Path, split: str = "test1") -> str:
    """tables.md of `sa2sr reproduce`: Table 1, Tables 2-4 (mean ± sd over pre-training seeds, beside the paper)
    and the paired differences."""
    root = Path(study_dir)
    runs = collect_study(root)
    lines = [f"# SA2SR study: {root}", ""]
    plan = root / "plan.json"
    if plan.is_file():
        p = json.loads(plan.read_text())
        lines += [f"Profile `{p['profile']}`; overrides {json.dumps(p['shared_overrides'])}.", ""]
    encoders = sorted({json.loads(f.read_text()).get("encoder", "bilstm 5x192")
                       for f in (root / "runs").glob("*/pretrain.json")})
    if encoders:
        lines += [f"Encoder: {', '.join(encoders)}.", ""]
    if (root / "table1").is_dir():
        lines += table1_section(root / "table1")
    lines += [f"Tables 2-4 ({split}): CCC, mean ± sd over pre-training seeds (each fine-tuned once).", "",
              render_tables(study_evals(runs), split)]
    paired = paired_table(runs, split)
    if paired:
        lines += [f"### Paired differences ({split}, the same test utterances)", "",
                  "Mean CCC of A's runs minus B's, 95% paired bootstrap interval (utterances resampled jointly, "
                  "seeds resampled per setting; 1000 replicates); * = the interval excludes 0.", "", *paired, ""]
    return "\n".join(lines)
