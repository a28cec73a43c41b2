"""Smoke test: the real dvc.yaml runs end to end (`dvc repro`) on a tiny demo corpus in a temporary repo."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from sa2sr_core.corpora.speaker_folds import msp_podcast_manifest

pytestmark = pytest.mark.slow  # every test here runs `dvc repro` or `sa2sr reproduce`

ROOT = Path(__file__).resolve().parents[1]
TINY_DEMO = {
    "librispeech": {"train-clean-100": 6, "dev-clean": 2, "test-clean": 2},
    "librispeech_speakers": {"train-clean-100": 2, "dev-clean": 1, "test-clean": 1},
    "iemocap_per_speaker": 2,
    "msp_podcast": {"Train": 6, "Development": 2, "Test1": 2, "Test2": 2},
    "msp_speakers": {"Train": 2, "Development": 1, "Test1": 1, "Test2": 1},
}


def _run(cmd, cwd, **extra_env):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra_env)
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    if shutil.which("dvc", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("dvc is not installed in this environment")
    d = tmp_path_factory.mktemp("repo")
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, d / name)
    for name in ("stages", "sa2sr_core", "results", "profiles"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, d / name, ignore=shutil.ignore_patterns("__pycache__"))
    (d / "results" / "demo").mkdir(parents=True, exist_ok=True)  # report.runs_dir: a dependency of `report`
    params = yaml.safe_load((d / "params.yaml").read_text())
    params["demo"].update(TINY_DEMO)
    params["features"]["workers"] = 1
    params["pretrain"].update(max_epochs=1, max_frames_per_batch=4000)
    params["pretrain"]["encoder"].update(hidden=16, layers=1)
    params["pretrain"]["summarizer_hidden"] = 8
    params["finetune"].update(max_epochs=2)
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "init", "-q"], d)
    _run(["dvc", "init", "-q"], d)
    _run(["dvc", "config", "core.analytics", "false"], d)
    _run(["git", "add", "-A"], d)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], d)
    return d, params


def test_dvc_repro_demo_to_features(repo):
    d, params = repo
    _run(["dvc", "repro", "features"], d)
    summaries = d / params["data"]["summaries_dir"]
    data = {c: json.loads((summaries / f"prepare_{c}.json").read_text()) for c in ("librispeech", "msp_podcast")}
    assert data["librispeech"]["splits"]["train"]["utterances"] == 6
    assert data["msp_podcast"]["source"] == "demo"
    for corpus in ("librispeech", "msp_podcast"):
        m = pd.read_parquet(d / params["data"]["manifests_dir"] / f"{corpus}.parquet")
        assert len(m) > 0 and m["utt_id"].is_unique
    # features need only the corpora they read: IEMOCAP was neither synthesized nor read
    assert not (d / params["data"]["manifests_dir"] / "iemocap.parquet").exists()
    assert not (d / params["data"]["demo_dir"] / "iemocap").exists()
    feats = {c: json.loads((summaries / f"features_{c}.json").read_text()) for c in ("librispeech", "msp_podcast")}
    assert feats["librispeech"]["train"]["utterances"] == 18  # 6 + two speed-perturbed copies each
    assert feats["msp_podcast"]["train"]["utterances"] == 6
    t = pq.read_table(d / params["data"]["features_dir"] / "librispeech" / "validation")
    assert t.num_rows == 2 and t["lfbe"].type.value_type.list_size == 40
    # nothing changed: a second repro runs nothing
    out = _run(["dvc", "repro", "features"], d)
    assert "didn't change" in out or "up to date" in out


def test_dvc_repro_whole_pipeline(repo):
    d, params = repo
    _run(["dvc", "repro"], d)
    labels = json.loads((d / params["data"]["summaries_dir"] / "labels_librispeech.json").read_text())
    assert labels["labeler"] == "vader"  # no hub here: the fallback is declared, not hidden
    assert sum(labels["per_class"].values()) == 10
    corr = json.loads((d / "metrics" / "correlation.json").read_text())
    assert "spearman" in corr and corr["labeler"] == "vader" and corr["data"] == "demo"
    assert (d / "metrics" / "table1.png").read_bytes()[:4] == b"\x89PNG"
    pre = json.loads((d / "metrics" / "pretrain.json").read_text())
    assert pre["epoch"] == 1 and 0 <= pre["cer"] and pre["lambda"] == params["lambda"]
    model = d / params["pretrain"]["model_dir"]
    assert {"model.safetensors", "config.json", "vocab.json", "checkpoint.pt"} <= {p.name for p in model.iterdir()}
    out = _run(["dvc", "plots", "show", "--json"], d)
    assert "cer" in out
    # the self-contained model, its card, `sa2sr predict` with the default --model, and the report
    card = (d / params["package"]["model_dir"] / "README.md").read_text()
    assert "## Limits" in card and "DEMO" in card
    wav = next((d / params["data"]["demo_dir"]).rglob("*.wav"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    res = subprocess.run([sys.executable, "-m", "sa2sr_core.cli", "predict", str(wav), "--out", "p.csv",
                          "--no-progress"], cwd=d, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert pd.read_csv(d / "p.csv")["status"].tolist() == ["ok"]
    ev = json.loads((d / params["evaluate"]["metrics"]).read_text())
    # the baseline, scored on the same utterances
    assert ev["baseline"]["splits"]["test1"]["n"] == ev["splits"]["test1"]["n"]
    assert json.loads((d / params["baseline"]["metrics"]).read_text())["functionals"] == 84
    report = (d / params["report"]["path"]).read_text()
    assert "baseline (ridge)" in report
    for section in ("## Data", "## Pseudo-labels", "## Table 1", "## Pre-training", "## Test CCC",
                    "## Frozen vs fine-tuned"):
        assert section in report
    assert (d / params["report"]["curves"]).read_bytes()[:4] == b"\x89PNG"


def _status(d) -> dict:
    """`dvc status --json`: {} when every stage is up to date (no stage is always changed)."""
    return json.loads(_run(["dvc", "status", "--json"], d))


def _ran(out: str) -> set[str]:
    """The stages a `dvc repro` ran."""
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


def _exp_show_columns(d):
    import csv
    import io

    return next(csv.reader(io.StringIO(_run(["dvc", "exp", "show", "--csv", "--no-pager"], d))))


def test_exp_show_leads_with_the_figures_that_matter(repo):
    d, params = repo
    cols = _exp_show_columns(d)
    first_param = next(i for i, c in enumerate(cols) if c == "seed" or c.startswith(("demo.", "data.")))
    metrics = cols[:first_param]
    for c in ("cer", "auc", "lambda", "init", "freeze_encoder", "test1.activation", "test1.valence",
              "test1.dominance", "baseline.test1.activation", "spearman"):
        assert any(m == c or m.endswith(":" + c) for m in metrics), (c, metrics)  # "file:key" where a param has it
    assert len(metrics) < 50, metrics  # data summaries are outputs, not metrics columns
    assert not any("splits" in c or "per_class" in c or "skipped" in c for c in metrics), metrics


def test_changing_iemocap_leaves_pretraining_and_finetuning_up_to_date(repo, tmp_path):
    d, params = repo
    real = tmp_path / "IEMOCAP_full_release"  # an IEMOCAP in its official layout, elsewhere on disk
    shutil.copytree(d / params["data"]["demo_dir"] / "iemocap" / "IEMOCAP_full_release", real)
    original = (d / "params.yaml").read_text()
    try:
        _run(["dvc", "repro"], d)
        assert _status(d) == {}
        p = yaml.safe_load(original)
        p["data"]["iemocap"] = str(real)
        (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        out = _run(["dvc", "repro"], d)
        ran = _ran(out)
        # own_corpus reads IEMOCAP's manifest (for finetune.corpus: iemocap): it runs, finds its own fingerprint
        # (msp_podcast) unchanged and rewrites nothing, so fine-tuning stays up to date
        assert ran == {"demo_data@iemocap", "prepare@iemocap", "own_corpus", "pseudo_label@iemocap", "correlate",
                       "report"}, out
        assert _status(d) == {}
        corr = json.loads((d / params["correlate"]["json"]).read_text())
        assert corr["data"] == "IEMOCAP"
    finally:
        (d / "params.yaml").write_text(original)
        _run(["dvc", "repro"], d)


def msp_as_a_manifest(msp_root: Path, out: Path) -> Path:
    """The demo MSP-Podcast written as a user's own manifest (dimensions and transcripts, utt_id as MSP-Podcast
    names it, the labels' order): the MSP-Podcast figures number for number."""
    msp_podcast_manifest(msp_root).to_csv(out, index=False)
    return out


def test_a_manifest_of_your_own_dimensions_then_categories(repo, tmp_path):
    d, params = repo
    original = (d / "params.yaml").read_text()
    try:
        _run(["dvc", "repro"], d)
        want = json.loads((d / params["evaluate"]["scores"]).read_text())
        manifest = msp_as_a_manifest(d / params["data"]["demo_dir"] / "msp_podcast" / "MSP-Podcast",
                                     tmp_path / "mine.csv")
        p = yaml.safe_load(original)
        p["finetune"]["corpus"] = str(manifest)
        (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        ran = _ran(_run(["dvc", "repro"], d))
        assert ran == {"own_corpus", "features_own", "text_features", "finetune", "baseline", "evaluate", "package",
                       "report"}, ran  # text_features: the corpus's transcripts (source none: an empty table)
        got = json.loads((d / params["evaluate"]["scores"]).read_text())
        assert got == want  # the same utterances, features, batches and seeds: the same figures
        assert _ran(_run(["dvc", "repro"], d)) == set() and _status(d) == {}  # unchanged manifest: nothing re-runs
        # re-reading an unchanged manifest rewrites nothing, so nothing downstream is outdated
        assert _ran(_run(["dvc", "repro", "-s", "-f", "own_corpus"], d)) == {"own_corpus"} and _status(d) == {}
        df = pd.read_csv(manifest)
        df[df["split"] != "test2"].to_csv(manifest, index=False)  # an edit of the manifest re-runs what it feeds
        assert _ran(_run(["dvc", "repro", "-s", "-f", "own_corpus"], d)) == {"own_corpus"}
        # the manifest it wrote changed: the stages that read it are outdated, nothing upstream of it
        assert set(_status(d)) == {"features_own", "text_features", "baseline", "evaluate", "package", "report"}, \
            _status(d)
        assert _ran(_run(["dvc", "repro"], d)) == {"features_own", "text_features", "finetune", "baseline", "evaluate",
                                                   "package", "report"}
        assert set(json.loads((d / params["evaluate"]["scores"]).read_text())) == {"test1", "baseline"}
        # categories only (here: high / low activation): the class head, UA / macro-F1 with CIs beside the logistic
        # baseline on the same utterances, the classes in the model card and in `sa2sr predict`'s columns
        median = df.groupby("split")["activation"].transform("median")  # both classes in every split
        cats = df.assign(category=["high" if a > m else "low" for a, m in zip(df["activation"], median)])
        cats.drop(columns=["activation", "valence", "dominance"]).to_csv(manifest, index=False)
        _run(["dvc", "repro", "-s", "-f", "own_corpus"], d)
        _run(["dvc", "repro"], d)
        ev = json.loads((d / params["evaluate"]["metrics"]).read_text())
        for block in (ev["splits"]["test1"], ev["baseline"]["splits"]["test1"]):
            assert set(block["categories"]) >= {"ua", "wa", "macro_f1", "confusion"} and "mean" not in block
            assert block["categories"]["ua"]["ci95"][0] <= block["categories"]["ua"]["value"]
        assert ev["splits"]["test1"]["n"] == ev["baseline"]["splits"]["test1"]["n"] == 2
        assert "ua" in json.loads((d / params["evaluate"]["scores"]).read_text())["test1"]
        assert (d / params["evaluate"]["confusion"]).read_bytes()[:4] == b"\x89PNG"
        assert "Emotion classes (2): high, low" in (d / params["package"]["model_dir"] / "README.md").read_text()
        wav = next((d / params["data"]["demo_dir"] / "msp_podcast").rglob("*.wav"))
        _run([sys.executable, "-m", "sa2sr_core.cli", "predict", str(wav), "--out", "c.csv", "--no-progress"], d)
        assert {"category", "p_class_high", "p_class_low"} <= set(pd.read_csv(d / "c.csv"))
        manifest.write_text("path,speaker,split,category\nnone.wav,s,dev,angry\n")
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        res = subprocess.run(["dvc", "repro", "-f", "-s", "own_corpus"], cwd=d, env=env, capture_output=True, text=True)
        assert res.returncode != 0 and "did you mean 'development'?" in res.stdout + res.stderr
    finally:
        (d / "params.yaml").write_text(original)
        _run(["dvc", "repro"], d)
    assert _status(d) == {}


def test_iemocap_folds_through_evaluate_and_package(repo):
    """`finetune.corpus: iemocap`: one model per fold (Development = the next session), per-fold, mean ± sd and
    pooled figures for the model and the baseline, the 4 classes beside A/V/D; back to msp_podcast, nothing stale."""
    d, params = repo
    original = (d / "params.yaml").read_text()
    try:
        p = yaml.safe_load(original)
        p["demo"]["iemocap_per_speaker"] = 6  # 12 utterances a session: every class in every fold's Train
        p["finetune"].update(corpus="iemocap", folds=[1, 2])
        (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        _run(["dvc", "repro"], d)
        for k, dev in ((1, 2), (2, 3)):
            fold = json.loads((d / params["finetune"]["summary"]).read_text())["folds"][f"fold-{k}"]
            assert fold["development"] == [f"session{dev}"] and fold["test"] == [f"session{k}"], fold
            assert (d / params["finetune"]["model_dir"] / f"fold-{k}" / "config.json").is_file()
        ev = json.loads((d / params["evaluate"]["metrics"]).read_text())
        assert set(ev["splits"]) == {"session1", "session2"} and set(ev) >= {"baseline", "cross_validation"}
        cv = ev["cross_validation"]
        assert set(cv["folds"]) == {"fold-1", "fold-2"} and cv["folds"]["fold-1"]["test"] == "session1"
        assert cv["pooled"]["n"] == ev["splits"]["session1"]["n"] + ev["splits"]["session2"]["n"]
        for block in (cv, ev["baseline"]["cross_validation"]):
            assert block["folds_sd"]["mean"] is not None and "ua" in block["folds_mean"]
        classes = ev["splits"]["session1"]["categories"]["confusion"]["classes"]  # the 4-class task's, as Train has them
        assert len(classes) >= 2 and set(classes) <= {"angry", "happy", "neutral", "sad"}, classes
        scores = json.loads((d / params["evaluate"]["scores"]).read_text())
        assert {"folds_mean", "folds_sd", "pooled"} <= set(scores)
        card = (d / params["package"]["model_dir"] / "README.md").read_text()
        assert f"Emotion classes ({len(classes)}): {', '.join(classes)}" in card
    finally:
        (d / "params.yaml").write_text(original)
        _run(["dvc", "repro"], d)
    assert _status(d) == {}
    assert not (d / params["finetune"]["model_dir"] / "fold-1").exists()  # the other layout's models are gone


@pytest.mark.parametrize("module, outdated", [
    ("models/classical.py", {"finetune", "baseline"}),  # the ridge: pre-training stays up to date
    ("training/schedule.py", {"pretrain", "finetune"}),  # training code: no data stage, no correlate
    # text_features: the asr source transcribes with the pre-trained network
    ("models/bilstm.py", {"pretrain", "text_features", "finetune", "evaluate", "package"}),
])
def test_editing_a_module_outdates_exactly_the_stages_that_run_it(repo, module, outdated):
    d, _ = repo
    assert _status(d) == {}
    path = d / "sa2sr_core" / module
    original = path.read_text()
    try:
        path.write_text(original + "\n# an edit\n")
        status = _status(d)
        assert set(status) == outdated, status  # their downstream follows on repro
    finally:
        path.write_text(original)
    assert _status(d) == {}


def test_a_truncated_checkpoint_ends_the_stage_in_one_named_line(repo):
    d, params = repo
    ckpt = d / params["pretrain"]["model_dir"] / "checkpoint.pt"
    data = ckpt.read_bytes()
    try:
        ckpt.write_bytes(data[:1000])
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        res = subprocess.run([sys.executable, "stages/pretrain.py"], cwd=d, env=env, capture_output=True, text=True)
        assert res.returncode == 2
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:") or "Traceback" in ln]
        assert len(lines) == 1 and f"{ckpt.relative_to(d)} cannot be read as a training checkpoint" in lines[0]
    finally:
        ckpt.write_bytes(data)


def test_reproduce_quick_on_the_demo(repo):
    """`sa2sr reproduce --profile quick --seeds 2` through DVC: ten runs, the tables, and nothing on a re-run."""
    d, params = repo
    before = (d / "params.yaml").read_text()
    cmd = [sys.executable, "-m", "sa2sr_core.cli", "reproduce", "--profile", "quick", "--seeds", "2",
           "--out", "results/quick", "--no-estimate"]
    out = _run(cmd, d)
    study = d / "results" / "quick"
    assert len(list((study / "runs").iterdir())) == 10
    assert "Table 1" in out and "Table 4" in out and "Paired differences" in out
    run = json.loads((study / "runs" / "asr_seed1" / "run.json").read_text())
    assert run["overrides"]["lambda"] == 0 and run["overrides"]["seed"] == params["seed"] + 1
    assert json.loads((study / "runs" / "asr_seed1" / "pretrain.json").read_text())["lambda"] == 0
    assert (d / "params.yaml").read_text() == before
    exps = _run(["git", "for-each-ref", "refs/exps"], d)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    again = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "0 to run" in again.stderr
    assert _run(["git", "for-each-ref", "refs/exps"], d) == exps


def test_reproduce_on_two_cpu_workers_gives_the_sequential_tables(repo):
    """`sa2sr reproduce --devices cpu,cpu`: two experiments at once, each worker in its own workspace, with one
    thread per run like the sequential study it is compared with: the same tables.md, every run's log, and the
    experiments in this project's git."""
    d, _ = repo
    study = [sys.executable, "-m", "sa2sr_core.cli", "reproduce", "--profile", "quick", "--seeds", "1", "--no-estimate"]
    _run(study + ["--out", "results/one"], d, SA2SR_CPU_THREADS="1")
    before = (d / "params.yaml").read_text()
    _run(study + ["--out", "results/two", "--devices", "cpu,cpu"], d, SA2SR_CPU_THREADS="1")
    tables = [(d / "results" / s / "tables.md").read_text().split("\n", 1)[1] for s in ("one", "two")]
    assert tables[0] == tables[1] and "Table 3" in tables[1]
    assert len(list((d / "results" / "two" / "runs").iterdir())) == 5
    assert len(list((d / "results" / "two" / "logs").glob("*.log"))) == 5
    assert sorted(p.name for p in (d / ".dvc" / "tmp" / "sa2sr-workers").iterdir()) == ["w0", "w1"]
    assert len([r for r in _run(["git", "for-each-ref", "refs/exps"], d).splitlines() if "/two-" in r]) == 5
    assert (d / "params.yaml").read_text() == before  # the workspace was not touched


def test_the_text_route_as_an_ablation_and_its_features_computed_once_per_source(repo):
    """-S finetune.text.source=gold / asr like -S lambda=0: the text features stage runs once per source (DVC's run
    cache brings a source back without recomputing it), the model reads the words, the text-only baseline is scored
    on the same utterances, and the report shows it; source none is back to sound only."""
    d, params = repo
    original = (d / "params.yaml").read_text()

    def with_source(source: str, fusion: str = "concat") -> str:
        p = yaml.safe_load(original)
        p["finetune"]["text"]["source"] = source
        p["finetune"]["text"]["fusion"] = fusion
        (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        return _run(["dvc", "repro"], d)

    try:
        _run(["dvc", "repro"], d)
        out = with_source("gold", fusion="late")
        assert {"text_features", "finetune", "baseline", "evaluate"} <= _ran(out)
        summary = json.loads((d / params["data"]["text_dir"] / "summary.json").read_text())
        assert summary["source"] == "gold" and summary["text_model"] == "vader" and summary["without_text"] == 0
        ev = json.loads((d / params["evaluate"]["metrics"]).read_text())
        assert ev["text"] == "gold" and ev["text_baseline"]["splits"]["test1"]["n"] == ev["splits"]["test1"]["n"]
        assert "text_baseline" in json.loads((d / params["evaluate"]["scores"]).read_text())
        config = json.loads((d / params["package"]["model_dir"] / "config.json").read_text())
        assert config["model"]["emotion"]["regressor"]["text"]["text_model"] == "vader"
        assert config["model"]["emotion"]["regressor"]["text"]["fusion"] == "late"  # mixed on Development
        mix = json.loads((d / params["finetune"]["summary"]).read_text())["late_fusion"]["valence"]
        assert 0 <= mix["weight"] <= 1 and mix["fused"] >= max(mix["acoustic"], mix["text"]) - 1e-9
        assert "text only (gold, ridge)" in (d / params["report"]["path"]).read_text()
        out = with_source("asr")
        assert "text_features" in _ran(out)
        asr = json.loads((d / params["data"]["text_dir"] / "summary.json").read_text())["asr"]
        assert asr["scored_against"] == "the corpus's own transcripts" and asr["wer"] >= 0
        # through the lexicon and word LM of the pre-training transcripts, the greedy transcripts scored beside;
        # the packaged model carries the LM, so that predict reads its own transcript the same way
        assert asr["decoder"]["kind"] == "lexicon" and asr["decoder"]["lexicon_words"] > 0 and asr["greedy"]["wer"] >= 0
        assert (d / params["package"]["model_dir"] / "word_lm.parquet").is_file()
        config = json.loads((d / params["package"]["model_dir"] / "config.json").read_text())
        assert config["model"]["emotion"]["regressor"]["text"]["decoder"]["kind"] == "lexicon"
        out = with_source("gold")  # computed before: restored, not recomputed (fusion is fine-tuning's alone)
        assert "text_features" not in _ran(out) and "finetune" in _ran(out)
        assert json.loads((d / params["data"]["text_dir"] / "summary.json").read_text())["source"] == "gold"
    finally:
        (d / "params.yaml").write_text(original)
        _run(["dvc", "repro"], d)
    assert "text" not in json.loads((d / params["evaluate"]["metrics"]).read_text())
