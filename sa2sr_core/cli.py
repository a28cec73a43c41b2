"""The `sa2sr` command line: thin wrappers over sa2sr_core, like the DVC stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="SA2SR: sentiment-aware ASR pre-training for speech emotion recognition.",
                  no_args_is_help=True, add_completion=False)


@app.command()
def correlate(
    table: Path = typer.Argument(..., help="CSV with columns utt_id, emotion, sentiment (IEMOCAP codes or names)."),
    out: Path = typer.Option(..., "--out", help="Write the results JSON here."),
    merge_excited: bool = typer.Option(True, help="Count Excited as Happy."),
    heatmap: Optional[Path] = typer.Option(None, help="Also write the Table 1 heatmap PNG here."),
) -> None:
    """Text sentiment x speech emotion: Table 1 counts, Spearman (with p-value) and Cramér's V."""
    import pandas as pd

    from sa2sr_core.correlation import correlate as run, plot_table
    from sa2sr_core.io import write_json

    if not table.is_file():
        raise typer.BadParameter(f"{table} does not exist", param_hint="TABLE")
    df = pd.read_csv(table)
    missing = [c for c in ("emotion", "sentiment") if c not in df.columns]
    if missing:
        raise typer.BadParameter(f"{table} has no column(s) {missing}; columns are {list(df.columns)}",
                                 param_hint="TABLE")
    t, result = run(df, merge_excited=merge_excited)
    result["table"] = t.reset_index().to_dict(orient="records")
    write_json(out, result)
    if heatmap:
        plot_table(t, heatmap, f"{table.name}: Spearman {result['spearman']:.2f}")
    typer.echo(t.to_string())
    typer.echo(json.dumps({k: result[k] for k in ("spearman", "p_value", "cramers_v", "n", "excluded")}, indent=1))


@app.command()
def demo(
    out: Path = typer.Argument(Path("data/demo"), help="Where to write the demo corpora."),
    params: Path = typer.Option(Path("params.yaml"), help="params.yaml with the `demo` section."),
) -> None:
    """Synthesize the demo corpus (LibriSpeech, IEMOCAP and MSP-Podcast layouts) with espeak-ng."""
    from sa2sr_core.corpora.demo import build_demo
    from sa2sr_core.io import atomic_dir
    from sa2sr_core.params import demo_config, load_params

    with atomic_dir(out) as tmp:
        counts = build_demo(tmp, demo_config(load_params(params)), ["librispeech", "iemocap", "msp_podcast"])
    typer.echo(json.dumps(counts))


@app.command()
def manifest(
    corpus: str = typer.Argument(..., help="librispeech | iemocap | msp_podcast"),
    root: Path = typer.Argument(..., help="The corpus root in its official layout."),
    out: Path = typer.Option(..., "--out", help="Manifest Parquet to write; rejects go to <out>_rejects.csv."),
) -> None:
    """Read one corpus from its official layout into a manifest and a rejects report."""
    from sa2sr_core.corpora.manifest import summarize, write_manifest
    from sa2sr_core.prepare import read_corpus

    params = {"data": {corpus: str(root)}}
    read = read_corpus(params, corpus)
    df = write_manifest(read, out, out.with_name(out.stem + "_rejects.csv"))
    typer.echo(json.dumps({"splits": summarize(df), "rejects": len(read.rejects)}, indent=1))


@app.command()
def tables(
    scratch: list[Path] = typer.Option([], help="eval.json of 'No pre-training' runs (one per seed)."),
    asr: list[Path] = typer.Option([], help="eval.json of ASR-features runs (lambda=0, fine-tuned)."),
    sa2sr: list[Path] = typer.Option([], help="eval.json of SA2SR-features runs (fine-tuned)."),
    asr_frozen: list[Path] = typer.Option([], help="eval.json of ASR-features runs with a frozen encoder."),
    sa2sr_frozen: list[Path] = typer.Option([], help="eval.json of SA2SR-features runs with a frozen encoder."),
    split: str = typer.Option("test1", help="Which test split of eval.json to report."),
    out: Optional[Path] = typer.Option(None, help="Write the Markdown here (default: print)."),
) -> None:
    """Render the paper's Tables 2-4 (CCC, mean ± sd over runs) beside the paper's numbers."""
    from sa2sr_core.io import write_text
    from sa2sr_core.tables import render_tables

    for p in [*scratch, *asr, *sa2sr, *asr_frozen, *sa2sr_frozen]:
        if not p.is_file():
            raise typer.BadParameter(f"{p} does not exist")
    md = render_tables({"scratch": scratch, "asr": asr, "sa2sr": sa2sr, "asr_frozen": asr_frozen,
                        "sa2sr_frozen": sa2sr_frozen}, split)
    if out:
        write_text(out, md)
    typer.echo(md)


if __name__ == "__main__":
    app()
