"""metrics/report.md: the one page to read after `dvc repro` — data, pseudo-labels, Table 1, training curves,
test CCC with CIs, frozen vs fine-tuned, links to the plots."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sa2sr_core.evaluation.tables import (
    ccc_table,
    class_table,
    collect_study,
    cross_validation_table,
    data_table,
    has_categories,
    has_dimensions,
    paired_table,
    render_tables,
    study_evals,
)
from sa2sr_core.io import atomic_path
from sa2sr_core.names import DIMS, SENTIMENT_CLASSES
from sa2sr_core.summaries import read_summaries
from sa2sr_core.sentiment.labels import merge_label_summaries


def read_curves(live_dir: str | Path, fold: str | None = None) -> pd.DataFrame:
    """dvclive's plots/metrics/<name>.tsv (step, value) -> one frame indexed by epoch (a cross-validation's fold:
    plots/metrics/<fold>/<name>.tsv)."""
    cols = {}
    for f in sorted(Path(live_dir, "plots", "metrics", *([fold] if fold else [])).glob("*.tsv")):
        t = pd.read_csv(f, sep="\t")
        cols[f.stem] = t.set_index("step")[t.columns[-1]]
    df = pd.DataFrame(cols)
    df.index = df.index + 1
    df.index.name = "epoch"
    return df


def plot_curves(pre: pd.DataFrame, ft: pd.DataFrame, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    for col, label in (("train_loss_ctc", "train CTC"), ("val_loss_ctc", "val CTC")):
        if col in pre:
            ax[0].plot(pre.index, pre[col], marker="o", label=label)
    ax[0].set_title("pre-training: CTC loss")
    for col, label in (("cer", "val CER"), ("auc", "val sentiment AUC"), ("war", "val sentiment WAR")):
        if col in pre:
            ax[1].plot(pre.index, pre[col], marker="o", label=label)
    ax[1].set_title("pre-training: validation")
    for d in (*DIMS, "mean"):
        if f"val_ccc_{d}" in ft:
            ax[2].plot(ft.index, ft[f"val_ccc_{d}"], marker="o", label=d)
    ax[2].set_title("fine-tuning: Development CCC")
    from matplotlib.ticker import MaxNLocator

    for a in ax:
        a.set_xlabel("epoch")
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _md_table(df: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    cols = [df.index.name or ""] + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        cells = [floatfmt.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append(f"| {idx} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportInputs:
    """What the report reads (the pipeline's outputs) and the setting it states, from params.yaml."""

    path: str  # the report itself (links are relative to it)
    curves: str  # the training-curves picture it writes
    runs_dir: str  # a study of `sa2sr reproduce`: Tables 2-4
    prepare: dict  # {corpus: summary} of the data stages
    labels: dict
    correlation: str  # correlate.json, table_csv, heatmap
    table_csv: str
    heatmap: str
    pretrain_summary: str
    pretrain_live: str
    finetune_live: str
    eval_metrics: str
    scatter: str
    confusion: str
    lambda_: float
    init: str
    freeze_encoder: bool
    seed: int
    seed_offset: int

    @classmethod
    def from_params(cls, params: dict) -> "ReportInputs":
        c, e, ft = params["correlate"], params["evaluate"], params["finetune"]
        return cls(params["report"]["path"], params["report"]["curves"], params["report"]["runs_dir"],
                   read_summaries(params, "prepare"), read_summaries(params, "labels"), c["json"], c["table_csv"],
                   c["heatmap"], params["pretrain"]["summary"], params["pretrain"]["live_dir"], ft["live_dir"],
                   e["metrics"], e["scatter"], e["confusion"], float(params["lambda"]), ft["init"],
                   bool(ft["freeze_encoder"]), int(params["seed"]), int(ft.get("seed_offset", 0)))


def render_report(r: ReportInputs) -> str:
    rel = lambda f: os.path.relpath(f, Path(r.path).parent)  # noqa: E731  links relative to the report
    data = r.prepare
    labels = merge_label_summaries(r.labels)
    corr = json.loads(Path(r.correlation).read_text())
    pre_m = json.loads(Path(r.pretrain_summary).read_text())
    ev = json.loads(Path(r.eval_metrics).read_text())
    folds = list((ev.get("cross_validation") or {}).get("folds") or [None])  # a cross-validation: its first fold
    pre, ft = read_curves(r.pretrain_live), read_curves(r.finetune_live, folds[0])
    plot_curves(pre, ft, r.curves)
    demo = ev.get("data") == "demo"
    out = [f"# sa2sr run report{' — DEMO corpus (synthetic speech)' if demo else ''}", "",
           f"Encoder: **{pre_m.get('encoder', 'bilstm')}**"
           + (" — random weights: the SSL numbers below say nothing about self-supervised pre-training"
              if "RANDOM WEIGHTS" in pre_m.get("encoder", "") else "") + ".",
           f"Setting: lambda = {r.lambda_:g}, fine-tuning init = {r.init}, encoder "
           f"{'frozen' if r.freeze_encoder else 'fine-tuned'}, seed {r.seed} "
           f"(+{r.seed_offset} for fine-tuning)."
           + (" Demo numbers show the pipeline works; they are not the paper's experiment." if demo else ""), ""]
    out += ["## Data", "", *data_table(data)]
    out.append("\nRejected at reading: " + ", ".join(f"{c} {v['rejects']}" for c, v in data.items()) + ".")
    out += ["", "## Pseudo-labels", "", f"Labeller: **{labels['labeler']}** (requested {labels.get('model_requested')})."
            + (" VADER stood in because the RoBERTa model could not be loaded." if labels["labeler"] == "vader" else ""),
            "", "| corpus | utterances | negative | neutral | positive |", "|---|---:|---:|---:|---:|"]
    for c, v in labels["corpora"].items():
        n = v["utterances"]
        out.append(f"| {c} | {n} | " + " | ".join(f"{v['per_class'][k]} ({v['per_class'][k] / max(n, 1):.0%})"
                                                  for k in SENTIMENT_CLASSES) + " |")
    t1 = pd.read_csv(r.table_csv).set_index("speech_emotion")
    out += ["", "## Table 1: text sentiment x speech emotion (IEMOCAP)", "", _md_table(t1, "{}"), "",
            f"Spearman {corr['spearman']:.3f} (p = {corr['p_value']:.1e}), Cramér's V {corr['cramers_v']:.3f}, "
            f"n = {corr['n']}. The paper's own Table 1 counts give Spearman "
            f"{corr['paper']['spearman_from_paper_counts']:.3f} (its text says {corr['paper']['spearman_reported_in_paper_text']}).",
            f"Heatmap: [{rel(r.heatmap)}]({rel(r.heatmap)})."]
    show = [c for c in ("train_loss_ctc", "val_loss_ctc", "cer", "auc", "war", "M") if c in pre]
    out += ["", "## Pre-training", "", f"Selected epoch {pre_m['epoch']} of {pre_m['epochs_run']} "
            f"({pre_m['selection']}): CER {pre_m['cer']:.3f}, AUC {pre_m['auc']:.3f}, WAR {pre_m['war']:.3f}.", "",
            _md_table(pre[show].round(4)), "",
            f"![training curves]({rel(r.curves)})"]
    show = [c for c in ("train_loss_ccc", "train_loss_ce", *(f"val_ccc_{x}" for x in (*DIMS, "mean")), "val_ua",
                        "val_wa", "val_macro_f1") if c in ft]
    classes = "val_ua" in ft
    out += ["", f"## Fine-tuning (Development {'' if classes else 'CCC '}per epoch"
            + (f", {folds[0]} of {len(folds)}" if folds[0] else "") + ")", "", _md_table(ft[show].round(4))]
    if has_dimensions(ev):
        out += ["", "## Test CCC (bootstrap 95% CI)", "", *ccc_table(ev)]
        out.append(f"\nScatter plot: [{rel(r.scatter)}]({rel(r.scatter)}).")
    if classes:
        out += ["", "## Test emotion classes (bootstrap 95% CI)", "", *class_table(ev),
                f"\n![confusion matrix]({rel(r.confusion)})"]
    if "cross_validation" in ev:
        out += ["", f"## Cross-validation ({len(folds)} folds, leave one session out)", "", *cross_validation_table(ev),
                "\nEach fold's model on its held-out session, selected on another whole session; mean ± sd over "
                "folds; pooled: all folds' test utterances as one set [bootstrap 95% CI]."]
    study = collect_study(r.runs_dir)
    runs = study_evals(study)
    out += ["", "## Frozen vs fine-tuned, and the other Table 2-4 settings", ""]
    if runs:
        out += [f"From {sum(map(len, runs.values()))} runs in `{r.runs_dir}` (`sa2sr reproduce`; "
                "mean ± sd over pre-training seeds, test1):", "", render_tables(runs, "test1")]
        paired = paired_table(study, "test1")
        if paired:
            out += ["Paired differences on the same test utterances (mean CCC of A's runs minus B's, 95% bootstrap "
                    "interval over utterances and seeds; * = excludes 0):", "", *paired]
    else:
        out.append(f"No runs in `{r.runs_dir}` yet: `sa2sr reproduce --profile demo --seeds 3 "
                   f"--out {r.runs_dir}` makes them.")
    out += ["", "## Plots", "", *(f"- [{rel(x)}]({rel(x)})" for x in
            (r.curves, r.heatmap, r.scatter)),
            "- `dvc plots show` renders the per-epoch curves of dvclive/pretrain and dvclive/finetune."]
    return "\n".join(out) + "\n"
