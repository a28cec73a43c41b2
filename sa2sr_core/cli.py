"""The `sa2sr` command line: thin wrappers over sa2sr_core, like the DVC stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from sa2sr_core.config.inference import PredictConfig, SegmentConfig, ServeConfig


def given(**options) -> dict:
    """The options given on the command line; the others keep their config dataclass's default (stated there once)."""
    return {k: v for k, v in options.items() if v is not None}


def segment_config(**options) -> SegmentConfig:
    """The voice-activity settings from the command line; a bad value ends the command in one line (exit 2)."""
    try:
        return SegmentConfig(**given(**options))
    except ValueError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)


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

    from sa2sr_core.io import write_json
    from sa2sr_core.sentiment.correlation import correlate as run
    from sa2sr_core.sentiment.correlation import plot_table

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
    from sa2sr_core.config.demo import demo_config
    from sa2sr_core.corpora.demo import build_demo
    from sa2sr_core.io import atomic_dir
    from sa2sr_core.params import load_params

    with atomic_dir(out) as tmp:
        counts = build_demo(tmp, demo_config(load_params(params)), ["librispeech", "iemocap", "msp_podcast"])
    typer.echo(json.dumps(counts))


@app.command()
def manifest(
    corpus: str = typer.Argument(..., help="librispeech | iemocap | msp_podcast | own (your manifest file)"),
    root: Path = typer.Argument(..., help="The corpus root in its official layout; for own, the manifest file "
                                          "(CSV / TSV / JSON lines: path, speaker, split, labels; docs/data.md)."),
    out: Path = typer.Option(..., "--out", help="Manifest Parquet to write; rejects go to <out>_rejects.csv."),
    scale: Optional[tuple[float, float]] = typer.Option(None, help="own: the A/V/D scale (e.g. 1 7); values "
                                                                   "outside it are rejected."),
) -> None:
    """Read one corpus from its official layout (or your own manifest) into a manifest and a rejects report;
    a corpus that cannot be used is one `error:` line (exit 2) and nothing is written."""
    from sa2sr_core.corpora.manifest import label_counts, summarize, write_manifest
    from sa2sr_core.corpora.prepare import read_corpus
    from sa2sr_core.errors import Sa2srError

    try:
        read = read_corpus(corpus, root, scale=scale)
        df = write_manifest(read, out, out.with_name(out.stem + "_rejects.csv"))
    except (Sa2srError, FileNotFoundError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps({"splits": summarize(df), "labels": label_counts(df), "rejects": len(read.rejects)},
                          indent=1))
    if read.rejects:
        typer.echo(f"{len(read.rejects)} rows rejected -> {out.with_name(out.stem + '_rejects.csv')}", err=True)


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
    from sa2sr_core.evaluation.tables import render_tables
    from sa2sr_core.io import write_text

    for p in [*scratch, *asr, *sa2sr, *asr_frozen, *sa2sr_frozen]:
        if not p.is_file():
            raise typer.BadParameter(f"{p} does not exist")
    md = render_tables({"scratch": scratch, "asr": asr, "sa2sr": sa2sr, "asr_frozen": asr_frozen,
                        "sa2sr_frozen": sa2sr_frozen}, split)
    if out:
        write_text(out, md)
    typer.echo(md)


@app.command()
def reproduce(
    librispeech: Optional[Path] = typer.Option(None, help="LibriSpeech root (official layout); default: the demo."),
    iemocap: Optional[Path] = typer.Option(None, help="IEMOCAP_full_release root; default: the demo."),
    msp_podcast: Optional[Path] = typer.Option(None, "--msp-podcast", help="MSP-Podcast root; default: the demo."),
    finetune_corpus: Optional[str] = typer.Option(None, help="Fine-tune on: msp_podcast (the paper) | iemocap (its "
                                                             "five folds) | the path of your manifest."),
    profile: str = typer.Option("paper", help="paper | quick | demo (params.yaml as it is) | <name> of profiles/<name>.yaml"),
    seeds: int = typer.Option(3, help="Pre-training seeds per lambda (seed, seed + 1, ...), each fine-tuned once."),
    out: Optional[Path] = typer.Option(None, help="Study directory (default: results/<profile>)."),
    set_: list[str] = typer.Option([], "--set", help="Extra params override KEY=VALUE (dotted key), repeatable."),
    estimate: bool = typer.Option(True, help="Measure this machine and say how long the paper profile takes."),
    text: str = typer.Option("", help="Words beside sound (docs/text.md): gold, asr or gold,asr adds ASR / SA2SR "
                                      "features + text for each text source, and the text-only rows (Table 5)."),
    devices: str = typer.Option("", help="Run one experiment per device at once, e.g. cuda:0,cuda:1,cuda:2 (or "
                                         "cpu,cpu): one worker and workspace each (docs/reproducing.md)."),
) -> None:
    """The paper's study in one command: Table 1 and Tables 2-4 (no pre-training; ASR features, lambda 0; SA2SR;
    both frozen) with N pre-training seeds, as DVC experiments in this workspace; metrics and predictions of
    every run under --out/runs/, Tables 1-4 with paired bootstrap intervals in --out/tables.md. Re-running
    resumes: finished runs are skipped."""
    from sa2sr_core.errors import Sa2srError
    from sa2sr_core.study.reproduce import ReproduceConfig, parse_sets
    from sa2sr_core.study.reproduce import reproduce as run

    try:
        cfg = ReproduceConfig(out=out or Path("results") / profile, profile=profile, seeds=seeds,
                              corpora={"librispeech": librispeech, "iemocap": iemocap, "msp_podcast": msp_podcast},
                              sets=parse_sets(set_), finetune_corpus=finetune_corpus,
                              text=tuple(t.strip() for t in text.split(",") if t.strip()),
                              devices=tuple(d.strip() for d in devices.split(",") if d.strip()))
        res = run(cfg, Path("."), log=lambda m: typer.echo(m, err=True), estimate=estimate)
    except (Sa2srError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    typer.echo(Path(res["tables"]).read_text())


def _default_model() -> Path:
    """The model the pipeline produced: params.yaml's package.model_dir when run in a project, else models/sa2sr."""
    from sa2sr_core.params import load_params

    p = Path("params.yaml")
    if p.is_file():
        d = load_params(p).get("package", {}).get("model_dir")
        if d:
            return Path(d)
    return Path("models/sa2sr")


def _load_model_or_exit(model: Optional[Path], device: str = "cpu"):
    from sa2sr_core.models.directory import ModelDirError
    from sa2sr_core.models.packaged import load_model

    try:
        return load_model(model or _default_model(), device)
    except ModelDirError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)


@app.command("cross-corpus")
def cross_corpus(
    target: str = typer.Argument(..., help="iemocap (all five sessions, 4 classes) | msp_podcast (evaluate.splits) "
                                           "| the path of a manifest (CSV / TSV / JSON lines: its test splits)."),
    out: Path = typer.Option(..., "--out", help="Write the results JSON here (a Markdown table is printed)."),
    model: Optional[Path] = typer.Option(None, help="Model directory (default: the pipeline's models/sa2sr)."),
    scale: Optional[tuple[float, float]] = typer.Option(None, help="A manifest's A/V/D scale (e.g. 1 5); default: "
                                                                   "finetune.scale_min..scale_max."),
    vad: str = typer.Option("silero", help="Where the speech is, as for `sa2sr predict`: silero | energy."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for the 95% intervals."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
    progress: bool = typer.Option(True, help="Show a progress bar on stderr."),
) -> None:
    """Score a trained model on another corpus's test utterances (the manifests of this project: data.manifests_dir):
    CCC with A/V/D mapped onto the target's scale, UA / macro-F1 on the classes whose names match; the classes on
    either side without a counterpart are named."""
    from sa2sr_core.errors import Sa2srError
    from sa2sr_core.study.cross_corpus import cross_corpus as run
    from sa2sr_core.study.cross_corpus import cross_corpus_table
    from sa2sr_core.io import write_json
    from sa2sr_core.params import load_params

    try:
        res = run(model or _default_model(), target, load_params(), bootstrap, seed, progress=progress, scale=scale,
                  vad=vad)
    except (Sa2srError, FileNotFoundError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    write_json(out, res)
    if res["notice"]:
        typer.echo(res["notice"], err=True)
    typer.echo("\n".join(cross_corpus_table(res)))
    if "classes" in res:
        c = res["classes"]
        typer.echo(f"classes matched: {', '.join(f'{m} = {t}' for m, t in c['matched'].items()) or 'none'}; the "
                   f"model's without a counterpart: {', '.join(c['model_only']) or 'none'}; the target's (left out): "
                   + (", ".join(f"{t} ({n})" for t, n in c["target_only"].items()) or "none"))
    typer.echo(f"A/V/D mapped from the model's scale {res['scale']['model']} onto {res['scale']['target']}; "
               f"{res['not_scored']} utterance(s) not scored. Wrote {out}")


@app.command()
def predict(
    paths: list[Path] = typer.Argument(..., help="Audio files and/or directories (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="CSV to write: one row per file."),
    model: Optional[Path] = typer.Option(None, help="Model directory (default: the pipeline's models/sa2sr)."),
    device: str = typer.Option("auto", help="auto (CUDA when present) | cpu | cuda[:N]"),
    max_frames_per_batch: Optional[int] = typer.Option(
        None, help=f"Padded feature frames per forward pass (default {PredictConfig.max_frames_per_batch})."),
    max_batch: Optional[int] = typer.Option(
        None, help=f"Most segments per forward pass (1 = one at a time) (default {PredictConfig.max_batch})."),
    segments: Optional[Path] = typer.Option(None, help="Also write one row per segment here (.csv, or .jsonl)."),
    plots: Optional[Path] = typer.Option(None, help="Also write one PNG per file here: emotion over time."),
    max_segment_s: Optional[float] = typer.Option(None, help="Longer speech runs are cut at pauses; shorter files are "
                                                             f"scored whole (default {SegmentConfig.max_segment_s})."),
    vad: Optional[str] = typer.Option(None, help="Where the speech is: silero (a trained detector: noise, hum and "
                                                 "music are not speech) | energy (frame energy above the noise "
                                                 f"floor) (default {SegmentConfig.vad})."),
    workers: Optional[int] = typer.Option(None, help="CPU: batches scored at once, one core each (0: all cores) "
                                                     f"(default {PredictConfig.workers})."),
    progress: bool = typer.Option(True, help="Show a progress bar on stderr."),
    transcripts: Optional[Path] = typer.Option(None, help="A model with the text route: read these transcripts "
                                                          "(CSV: path, transcript; a row per file) instead of its own."),
) -> None:
    """Activation / valence / dominance, text-sentiment probabilities and the CTC transcript for audio files,
    per file and (--segments, --plots) per speech segment over time. A model fine-tuned with the text route
    (docs/text.md) also reads a transcript: its own, or --transcripts'; columns text_input and text_read say which.

    Exit status: 0 when every file was scored, 1 when any file failed (named on stderr and in the status
    column; all good files are still scored), 2 on a usage or model error."""
    from sa2sr_core.device import pick_device
    from sa2sr_core.inference.predict import predict_recordings, write_segments
    from sa2sr_core.inference.vad import FINE, NO_SPEECH
    from sa2sr_core.io import write_csv
    from sa2sr_core.models.directory import demo_notice

    dev = pick_device(device)
    net, config = _load_model_or_exit(model, dev)
    cfg = PredictConfig(**given(max_frames_per_batch=max_frames_per_batch, max_batch=max_batch, workers=workers),
                        segment=segment_config(max_segment_s=max_segment_s, vad=vad), device=str(dev),
                        progress=progress)
    from sa2sr_core.inference.text import TextRouteError

    try:
        res = predict_recordings(net, config, paths, cfg, dev, transcripts=transcripts,
                                 model_dir=str(model or _default_model()))
    except TextRouteError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    df = res.files
    if df.empty:
        typer.echo(f"error: no audio files found in {[str(p) for p in paths]}", err=True)
        raise typer.Exit(2)
    write_csv(out, df)
    if segments:
        write_segments(segments, res.segments)
    scale = config.scale
    notice = demo_notice(config)
    if plots:
        from sa2sr_core.inference.timeline import plot_all

        plot_all(df, res.segments, scale, plots, notice)
    bad = int((~df["status"].isin(FINE)).sum())
    quiet = int((df["status"] == NO_SPEECH).sum())
    typer.echo(f"{len(df) - bad - quiet}/{len(df)} files scored"
               f"{f', {quiet} without speech (nothing to score)' if quiet else ''} -> {out}"
               f"{f', {len(res.segments)} segments -> {segments}' if segments else ''}"
               f"{f', pictures -> {plots}/' if plots else ''} (activation/valence/dominance on the "
               f"{scale[0]:g}-{scale[1]:g} scale of the training corpus, clipped into it; unclipped in <dim>_raw)"
               f"{f'; {bad} failed' if bad else ''}", err=True)
    if notice:
        typer.echo(notice, err=True)
    raise typer.Exit(1 if bad else 0)


@app.command()
def serve(
    model: Optional[Path] = typer.Option(None, help="Model directory (default: the pipeline's models/sa2sr)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    device: str = typer.Option("auto", help="auto (CUDA when present) | cpu | cuda[:N]"),
    max_upload_mb: Optional[float] = typer.Option(
        None, help=f"Larger uploads get 413 before they are read (default {ServeConfig.max_upload_mb})."),
    max_audio_s: Optional[float] = typer.Option(
        None, help=f"Longer recordings get 413 (default {ServeConfig.max_audio_s})."),
    max_pending: Optional[int] = typer.Option(
        None, help=f"Requests processed at once; more get 503 with Retry-After (default {ServeConfig.max_pending})."),
    batch_wait_ms: Optional[float] = typer.Option(
        None, help=f"How long the model waits for other requests to fill a batch (default {ServeConfig.batch_wait_ms})."),
    vad: Optional[str] = typer.Option(None, help=f"silero | energy, as for predict (default {SegmentConfig.vad})."),
) -> None:
    """A local HTTP service and page for the model: POST /predict (multipart field `file`), GET /health, GET /
    (pick, drop or record a file; emotion over time). Ctrl-C lets in-flight requests finish."""
    import uvicorn

    from sa2sr_core.device import pick_device
    from sa2sr_core.inference.serve import Service, create_app

    dev = pick_device(device)
    model_dir = model or _default_model()
    net, config = _load_model_or_exit(model_dir, dev)
    cfg = ServeConfig(**given(max_upload_mb=max_upload_mb, max_audio_s=max_audio_s, max_pending=max_pending,
                              batch_wait_ms=batch_wait_ms))
    service = Service(net, config, str(model_dir), cfg, segment_config(vad=vad), device=dev)
    if service.notice:
        typer.echo(service.notice, err=True)
    typer.echo(f"sa2sr serve: http://{host}:{port}/ (model {model_dir}, {dev}); Ctrl-C to stop", err=True)
    uvicorn.run(create_app(service), host=host, port=port, log_level="info", timeout_graceful_shutdown=60)


@app.command()
def export(
    format: str = typer.Option(..., "--format", help="onnx | torchscript"),
    out: Path = typer.Option(..., "--out", help="File to write (.onnx / .pt)."),
    model: Optional[Path] = typer.Option(None, help="Model directory (default: the pipeline's models/sa2sr)."),
    atol: float = typer.Option(1e-4, help="Largest allowed difference from PyTorch on a check input."),
) -> None:
    """Export the model (LFBE features -> A/V/D, sentiment probabilities, CTC log-probabilities) as a graph
    with dynamic batch and time axes, checked against PyTorch before it is written."""
    from sa2sr_core.inference.export import FORMATS, export_model

    if format not in FORMATS:
        raise typer.BadParameter(f"{format!r}: choose one of {', '.join(FORMATS)}", param_hint="--format")
    net, _ = _load_model_or_exit(model)
    diff = export_model(net, format, out, atol)
    typer.echo(f"wrote {out}; max |exported - PyTorch| per output: " +
               ", ".join(f"{k} {v:.1e}" for k, v in diff.items()))


if __name__ == "__main__":
    app()
