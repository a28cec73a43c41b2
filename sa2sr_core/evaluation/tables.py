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
#: Words beside sound (sa2sr reproduce --text): speech + text per text source (docs/text.md).
TEXT_SOURCES = ("gold", "asr")
TEXT_LABEL = {"gold": "the corpus's transcripts", "asr": "the model's own CTC transcripts"}
for _src in TEXT_SOURCES:
    NAMES[f"asr_text_{_src}"] = f"ASR features + text ({_src})"
    NAMES[f"sa2sr_text_{_src}"] = f"SA2SR features + text ({_src})"
#: The settings in table order.
ORDER_ALL = ("scratch", "asr", "sa2sr", "asr_frozen", "sa2sr_frozen",
             *(f"{p}_text_{t}" for t in TEXT_SOURCES for p in ("asr", "sa2sr")))
TABLES = {
    "Table 2: ASR pre-training vs none": ["baseline", "scratch", "asr"],
    "Table 3: SA2SR vs ASR features": ["baseline", "asr", "sa2sr"],
    "Table 4: frozen vs fine-tuned encoders": ["asr_frozen", "asr", "sa2sr_frozen", "sa2sr"],
}


def has_dimensions(block: dict) -> bool:
    """Whether an eval.json block (the model's, or its `baseline`) scored A/V/D on any split."""
    return any("mean" in r for r in block["splits"].values())


def has_categories(block: dict) -> bool:
    """Whether an eval.json block scored emotion classes on any split."""
    return any("categories" in r for r in block["splits"].values())


def split_scores(ev: dict, split: str) -> dict | None:
    """One test set's scores in an eval.json (or its baseline block): a split, or `pooled` (a cross-validation's
    folds scored as one set)."""
    if split == "pooled":
        return (ev.get("cross_validation") or {}).get("pooled")
    return ev["splits"].get(split)


def default_split(ev: dict) -> str:
    """The test set a study reports when none was named: a cross-validation's pooled folds, test1, else the first."""
    if "cross_validation" in ev:
        return "pooled"
    splits = list(ev["splits"])
    if not splits:
        raise KeyError("eval.json has no scored test split")
    return "test1" if "test1" in splits else splits[0]


def summarize_runs(paths: list[str | Path], split: str, block: str | None = None, keys=DIMS
                   ) -> tuple[dict[str, tuple[float, float]], int, str]:
    """Mean and sd of CCC per dimension (keys: DIMS) or of class metrics (keys: ua, wa, macro_f1) over eval.json
    files (one per seed); also n runs and data kind. block: read eval.json[block] (e.g. "baseline")."""
    vals = {d: [] for d in keys}
    kinds = set()
    for p in paths:
        top = json.loads(Path(p).read_text())
        res = split_scores(top.get(block, {}) if block else top, split)
        if res is None:
            raise KeyError(f"{p} has no split {split!r}; it has {list((top.get(block) if block else top)['splits'])}")
        kinds.add(top.get("data", "?"))
        for d in keys:
            vals[d].append(res[d]["ccc"] if d in DIMS else res["categories"][d]["value"])
    stats = {d: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0) for d, v in vals.items()}
    return stats, len(paths), "/".join(sorted(kinds))


CLASS_KEYS = ("ua", "wa", "macro_f1")


def render_class_tables(runs: dict[str, list[str | Path]], split: str) -> str:
    """The settings of Tables 2-4 scored on classes: UA / WA / macro-F1, mean ± sd over pre-training seeds."""
    summary = {k: summarize_runs(v, split, keys=CLASS_KEYS) for k, v in runs.items() if v}
    with_baseline = [p for v in runs.values() for p in v
                     if "categories" in (split_scores(json.loads(Path(p).read_text())["baseline"], split) or {})]
    if with_baseline:
        summary["baseline"] = summarize_runs(with_baseline[:1], split, "baseline", CLASS_KEYS)
    lines = ["| model | data | runs | UA | WA | macro-F1 |", "|---|---|---|---|---|---|"]
    for k in (*ORDER_ALL, "baseline"):
        if k in summary:
            stats, n, kind = summary[k]
            name = "Baseline: logistic regression on LFBE functionals" if k == "baseline" else NAMES[k]
            lines.append(f"| {name} | {kind} | {n} | " + " | ".join(
                f"{m:.3f} ± {sd:.3f}" if n > 1 else f"{m:.3f}" for m, sd in (stats[c] for c in CLASS_KEYS)) + " |")
    return "\n".join(lines) + "\n"


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


def render_text_tables(runs: dict[str, list[str | Path]], split: str = "test1") -> str:
    """Table 5 per text source: the text-only baseline (ridge on the text features: eval.json `text_baseline` of the
    SA2SR + text runs, mean ± sd over their seeds — an ASR transcript changes with the pre-training), speech alone
    (SA2SR features) and ASR / SA2SR features + text."""
    lines = []
    for src in TEXT_SOURCES:
        keys = [k for k in ("sa2sr", f"asr_text_{src}", f"sa2sr_text_{src}") if runs.get(k)]
        if not runs.get(f"sa2sr_text_{src}"):
            continue
        lines += [f"### Table 5 ({src}): words beside sound, text from {TEXT_LABEL[src]}", "",
                  "| model | data | runs | " + " | ".join(DIMS) + " |", "|---|---|---|---|---|---|"]
        rows = [(f"Text only ({src}): ridge on the text features", summarize_runs(runs[f"sa2sr_text_{src}"], split,
                                                                                  "text_baseline"))]
        rows += [(NAMES[k] if k != "sa2sr" else "SA2SR features (speech only)", summarize_runs(runs[k], split))
                 for k in keys]
        for name, (stats, n, kind) in rows:
            lines.append(f"| {name} | {kind} | {n} | " + " | ".join(
                f"{m:.3f} ± {sd:.3f}" if n > 1 else f"{m:.3f}" for m, sd in (stats[d] for d in DIMS)) + " |")
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


def ccc_table(ev: dict) -> list[str]:
    """metrics/eval.json: CCC [bootstrap 95% CI] per dimension and mean, one row per test split and model
    (the fine-tuned model, and the classical baseline where eval.json has it)."""
    lines = ["| split | model | n | " + " | ".join((*DIMS, "mean")) + " |", "|---|---|---:|---|---|---|---|"]
    blocks = [("sa2sr" + (f" + text ({ev['text']})" if ev.get("text") else ""), ev),
              *([("baseline (ridge)", ev["baseline"])] if "baseline" in ev else []),
              *([(f"text only ({ev.get('text')}, ridge)", ev["text_baseline"])] if "text_baseline" in ev else [])]
    for split in [k for k, r in ev["splits"].items() if "mean" in r]:
        for name, block in blocks:
            r = block["splits"].get(split)
            if r:
                lines.append(f"| {split} | {name} | {r['n']} | " + " | ".join(
                    f"{r[d]['ccc']:.3f} [{r[d]['ci95'][0]:.3f}, {r[d]['ci95'][1]:.3f}]" for d in (*DIMS, "mean")) + " |")
    return lines


#: The columns of a cross-validation table: eval.json key -> heading.
CV_COLUMNS = {"activation": "A", "valence": "V", "dominance": "D", "mean": "mean CCC", "ua": "UA", "wa": "WA",
              "macro_f1": "macro-F1"}


def cross_validation_table(ev: dict) -> list[str]:
    """Markdown rows of a cross-validation (eval.json `cross_validation`): each fold's test figures, their mean ±
    sd over folds, and the pooled figures [bootstrap 95% CI], for the model and the classical baseline."""
    cv = ev.get("cross_validation")
    if not cv:
        return []
    base = (ev.get("baseline") or {}).get("cross_validation")
    keys = [k for k in CV_COLUMNS if k in cv["folds_mean"]]
    num = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    rows = ["| fold | test / Development | model | " + " | ".join(CV_COLUMNS[k] for k in keys) + " |",
            "|---|---|---|" + "---|" * len(keys)]
    blocks = [("SA2SR", cv), *([("baseline", base)] if base else [])]
    for fold, f in cv["folds"].items():
        for name, b in blocks:
            rows.append(f"| {fold} | {f['test']} / {f['development']} | {name} | "
                        + " | ".join(num(b["folds"][fold].get(k)) for k in keys) + " |")
    for name, b in blocks:
        rows.append(f"| **mean ± sd** | {len(b['folds'])} folds | {name} | " + " | ".join(
            "n/a" if b["folds_mean"][k] is None else f"{b['folds_mean'][k]:.3f} ± {num(b['folds_sd'][k])}"
            for k in keys) + " |")
    for name, b in blocks:
        p = b["pooled"]
        cells = [p[k] if k in DIMS or k == "mean" else (p.get("categories") or {}).get(k) for k in keys]
        n = f"n = {p['n']}" + (f" ({p['categories']['n']} with a class)" if "categories" in p and "mean" in p else "")
        rows.append(f"| **pooled** | {n} | {name} | " + " | ".join(
            "n/a" if c is None or c.get("ccc", c.get("value")) is None else
            f"{c.get('ccc', c.get('value')):.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]" for c in cells) + " |")
    return rows


#: Paired comparisons (A vs B, same test utterances) shown under Tables 2-4.
COMPARISONS = [("asr", "scratch"), ("sa2sr", "asr"), ("sa2sr_frozen", "asr_frozen"), ("sa2sr", "sa2sr_frozen"),
               ("asr", "asr_frozen"), ("sa2sr", "baseline"),
               # words beside sound: does the implicit route still add once the words are read? does text add?
               *((f"sa2sr_text_{t}", f"asr_text_{t}") for t in TEXT_SOURCES),
               *((f"sa2sr_text_{t}", "sa2sr") for t in TEXT_SOURCES), *((f"asr_text_{t}", "asr") for t in TEXT_SOURCES)]


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


def class_table(ev: dict) -> list[str]:
    """Markdown rows: UA / WA / macro-F1 [95% CI] per test split, model and logistic baseline (eval.json)."""
    def cell(m: dict) -> str:
        return "n/a" if m["value"] is None else f"{m['value']:.3f} [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]"

    rows = ["| split | model | n | UA | WA | macro-F1 |", "|---|---|---:|---|---|---|"]
    for split, r in ev["splits"].items():
        if "categories" not in r:
            continue
        text = (ev.get("text_baseline") or {}).get("splits", {}).get(split)
        for name, res in (("SA2SR" + (f" + text ({ev['text']})" if ev.get("text") else ""), r),
                          ("baseline (logistic)", ev["baseline"]["splits"].get(split) if "baseline" in ev else None),
                          (f"text only ({ev.get('text')}, logistic)", text)):
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


def render_study(study_dir: str | Path, split: str | None = None) -> str:
    """tables.md of `sa2sr reproduce`: Table 1, Tables 2-4 (mean ± sd over pre-training seeds, beside the paper)
    and the paired differences; with classes, the settings' UA / WA / macro-F1. split: the test set (None: the
    runs' own, default_split; `pooled` for a cross-validation's folds as one set)."""
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
    evals = study_evals(runs)
    first = next((json.loads(Path(v[0]).read_text()) for v in evals.values() if v), None)
    if first is None:
        return "\n".join(lines + ["No finished runs yet.", ""])
    split = split or default_split(first)
    scores = split_scores(first, split) or {}
    if "mean" in scores:
        paper = "" if split == "test1" else " The paper's columns are its MSP-Podcast Test1 figures."
        lines += [f"Tables 2-4 ({split}): CCC, mean ± sd over pre-training seeds (each fine-tuned once).{paper}", "",
                  render_tables(evals, split)]
        paired = paired_table(runs, split)
        if paired:
            lines += [f"### Paired differences ({split}, the same test utterances)", "",
                      "Mean CCC of A's runs minus B's, 95% paired bootstrap interval (utterances resampled jointly, "
                      "seeds resampled per setting; 1000 replicates); * = the interval excludes 0.", "", *paired, ""]
        text = render_text_tables(evals, split)
        if text:
            lines += [text]
    if "categories" in scores:
        lines += [f"### Emotion classes ({split}): UA / WA / macro-F1, mean ± sd over pre-training seeds", "",
                  render_class_tables(evals, split)]
    return "\n".join(lines)
