"""`sa2sr reproduce` without running DVC: profiles, the run plan, pre-flight checks of the corpora, resume,
collection of the runs, and the paired bootstrap behind the tables."""

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sa2sr_core.cli import app
from sa2sr_core.corpora.layout import check_layout
from sa2sr_core.corpora.librispeech import CorpusLayoutError
from sa2sr_core.corpora.prepare import subset_rows
from sa2sr_core.errors import ParamsError
from sa2sr_core.metrics import ccc
from sa2sr_core.evaluation.significance import ccc_columns, paired_bootstrap
from sa2sr_core.evaluation.tables import render_study
from sa2sr_core.params import load_profile
from sa2sr_core.study.reproduce import (
    ORDER,
    ReproduceConfig,
    ReproduceError,
    base_overrides,
    dvc_command,
    format_value,
    parse_sets,
    plan_runs,
    reproduce,
)

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_every_profile_is_tested():
    assert sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml")) == ["paper", "quick", "ssl"]


@pytest.mark.parametrize("profile", ["paper", "quick", "ssl"])
def test_profiles_override_existing_params_only(profile):
    prof = load_profile(profile, ROOT)
    assert prof and base_overrides(ReproduceConfig(out=Path("x"), profile=profile), PARAMS, ROOT) == prof


def test_paper_profile_has_the_papers_numbers():
    p = load_profile("paper", ROOT)
    assert (p["lambda"], p["pretrain.lr"], p["pretrain.beta1"], p["pretrain.beta2"], p["pretrain.patience"],
            p["pretrain.schedule"]) == (200, 5e-5, 0.9, 0.999, 25, "constant")


def test_ssl_profile_switches_the_encoder_and_plans_the_same_study():
    p = load_profile("ssl", ROOT)
    assert p["pretrain.encoder.kind"] == "ssl" and p["lambda"] == 200
    assert p["readers.librispeech"]["subsets"][0] == "train-clean-100"
    runs = plan_runs(ReproduceConfig(out=Path("x"), profile="ssl", seeds=1), PARAMS, p)
    assert [r.setting for r in runs] == list(ORDER)
    assert all(r.overrides["pretrain.encoder.kind"] == "ssl" for r in runs)


def test_unknown_profile_and_keys_are_named(tmp_path):
    with pytest.raises(ParamsError, match="no profile 'papr'"):
        load_profile("papr", ROOT)
    with pytest.raises(ParamsError, match=r"--set: \['pretrain.lrr'\]"):
        base_overrides(ReproduceConfig(out=tmp_path, profile="demo", sets={"pretrain.lrr": 1}), PARAMS, ROOT)
    with pytest.raises(ParamsError, match=r"--set: params.yaml: pretrain.lr must be a number, got 'fast'"):
        base_overrides(ReproduceConfig(out=tmp_path, profile="demo", sets={"pretrain.lr": "fast"}), PARAMS, ROOT)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "broken.yaml").write_text("- lambda: 200\n")
    with pytest.raises(ParamsError, match="broken.yaml: expected a mapping"):
        load_profile("broken", tmp_path)
    with pytest.raises(ReproduceError, match="--set 'lambda': expected KEY=VALUE"):
        parse_sets(["lambda"])
    with pytest.raises(ReproduceError, match="--seeds 0: need at least one"):
        plan_runs(ReproduceConfig(out=tmp_path, seeds=0), PARAMS, {})


def test_plan_trains_each_pretraining_once_and_ends_on_the_params_setting():
    runs = plan_runs(ReproduceConfig(out=Path("x"), profile="demo", seeds=3), PARAMS, {})
    assert len(runs) == 15 and len({r.key for r in runs}) == 15
    # consecutive runs that share (lambda, seed) share one pre-training: 2 pre-trainings per seed
    changes = sum(1 for a, b in zip(runs, runs[1:]) if (a.overrides["lambda"], a.overrides["seed"])
                  != (b.overrides["lambda"], b.overrides["seed"]))
    assert changes + 1 == 6
    last = runs[-1]
    assert last.key == "sa2sr_seed0" and last.overrides["seed"] == PARAMS["seed"]
    assert last.overrides["lambda"] == PARAMS["lambda"] and last.overrides["finetune.freeze_encoder"] is False
    assert [r.setting for r in runs[:5]] == list(ORDER)
    assert {r.overrides["lambda"] for r in runs if r.setting.startswith("asr") or r.setting == "scratch"} == {0.0}
    with pytest.raises(ReproduceError, match="lambda > 0"):
        plan_runs(ReproduceConfig(out=Path("x"), seeds=1), PARAMS, {"lambda": 0})


def test_dvc_command_values_read_back_as_yaml():
    cmd = dvc_command("e", {"lambda": 200, "pretrain.lr": 5e-5, "data.iemocap": "/data/IEMOCAP full", "x": True,
                            "y": None, "z": [0.9, 1.1], "s": "123"}, ("evaluate",))
    sets = dict(c.split("=", 1) for c in cmd[cmd.index("-S") + 1::2] if "=" in c)
    assert {k: yaml.safe_load(v) for k, v in sets.items()} == {
        "lambda": 200, "pretrain.lr": 5e-5, "data.iemocap": "/data/IEMOCAP full", "x": True, "y": None,
        "z": [0.9, 1.1], "s": "123"}
    assert cmd[-1] == "evaluate" and format_value("constant") == "constant"


def _libri(root: Path, subsets):
    for s in subsets:
        (root / "LibriSpeech" / s / "1" / "2").mkdir(parents=True)
    return root


def _msp(root: Path, splits):
    (root / "Audios").mkdir(parents=True)
    (root / "Labels").mkdir()
    rows = [{"FileName": f"a{i}.wav", "EmoAct": 4, "EmoVal": 4, "EmoDom": 4, "SpkrID": 1, "Split_Set": s}
            for i, s in enumerate(splits)]
    pd.DataFrame(rows).to_csv(root / "Labels" / "labels_consensus.csv", index=False)
    return root


def test_layout_check_names_the_missing_split(tmp_path):
    assert check_layout("librispeech", _libri(tmp_path / "ls", ["train-clean-100", "dev-clean"])) == {"train", "validation"}
    with pytest.raises(CorpusLayoutError, match=r"no train split \(train-clean-100"):
        check_layout("librispeech", _libri(tmp_path / "ls2", ["dev-clean", "test-clean"]))
    with pytest.raises(CorpusLayoutError, match="has no test split: need one of Split_Set Test1, Split_Set Test2"):
        check_layout("msp_podcast", _msp(tmp_path / "msp", ["Train", "Development"]))
    assert check_layout("msp_podcast", _msp(tmp_path / "msp2", ["Train", "Development", "Test1"])) >= {"test1"}
    with pytest.raises(CorpusLayoutError, match="does not exist"):
        check_layout("iemocap", tmp_path / "nowhere")


def test_cli_fails_before_any_training_naming_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    res = CliRunner().invoke(app, ["reproduce", "--librispeech", str(tmp_path / "LS"), "--out", str(tmp_path / "o"),
                                   "--no-estimate"])
    assert res.exit_code == 2 and f"LibriSpeech root {tmp_path / 'LS'} does not exist" in res.output
    msp = _msp(tmp_path / "msp", ["Train", "Test1"])
    res = CliRunner().invoke(app, ["reproduce", "--msp-podcast", str(msp), "--out", str(tmp_path / "o"),
                                   "--no-estimate"])
    assert res.exit_code == 2 and "no validation split (Split_Set Development)" in res.output
    assert not (tmp_path / "o").exists()


def test_subset_is_a_fixed_hash_ordered_prefix():
    rows = [{"utt_id": f"u{i}", "split": s} for i in range(50) for s in ("train", "test")]
    a, b = subset_rows(rows, 10), subset_rows(list(reversed(rows)), 10)
    assert len(a) == 20 and sorted(r["utt_id"] + r["split"] for r in a) == sorted(r["utt_id"] + r["split"] for r in b)
    assert {r["utt_id"] for r in subset_rows(rows, 10) if r["split"] == "train"} <= \
        {r["utt_id"] for r in subset_rows(rows, 20) if r["split"] == "train"}


# --------------------------------------------------------------------------------------- paired bootstrap
def test_ccc_columns_matches_ccc():
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    p[:, 0] += t[:, 0]
    np.testing.assert_allclose(ccc_columns(t, p), [ccc(t[:, j], p[:, j]) for j in range(3)], rtol=1e-12)


def test_paired_bootstrap_finds_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(300, 3))
    good = [t + rng.normal(scale=0.5, size=t.shape) for _ in range(3)]
    bad = [t + rng.normal(scale=1.5, size=t.shape) for _ in range(3)]
    res = paired_bootstrap(t, good, bad, n_boot=300)
    for d in res.values():
        assert d["diff"] > 0.2 and d["ci95"][0] > 0 and d["p_not_better"] < 0.01
    same = paired_bootstrap(t, good, good, n_boot=300)
    for d in same.values():
        assert d["diff"] == pytest.approx(0) and d["ci95"][0] < 0 < d["ci95"][1]


def test_seed_spread_widens_the_interval():
    rng = np.random.default_rng(2)
    t = rng.normal(size=(300, 3))
    a = [t + rng.normal(scale=s, size=t.shape) for s in (0.4, 1.2, 0.4, 1.2)]  # seeds that disagree
    b = [t + rng.normal(scale=0.8, size=t.shape)]
    wide = paired_bootstrap(t, a, b, n_boot=400)["activation"]["ci95"]
    narrow = paired_bootstrap(t, a[:1] * 4, b, n_boot=400)["activation"]["ci95"]
    assert wide[1] - wide[0] > narrow[1] - narrow[0]


# ------------------------------------------------------------------- the loop, with a fake `dvc exp run`
def _fake_project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(ROOT / "params.yaml", proj / "params.yaml")
    shutil.copytree(ROOT / "profiles", proj / "profiles")
    return proj


def _fake_runner(calls):
    """Stands in for `dvc exp run`: applies the -S values, writes the outputs a run of the pipeline writes."""
    def run(cmd, cwd):
        calls.append(cmd)
        params = yaml.safe_load((cwd / "params.yaml").read_text())
        sets = {c.split("=", 1)[0]: yaml.safe_load(c.split("=", 1)[1]) for c in cmd[cmd.index("-S") + 1::2] if "=" in c}
        good = 0.3 if sets["lambda"] == 0 else 0.1  # SA2SR runs predict better
        text = sets.get("finetune.text.source", "none")
        good = good / 2 if text != "none" else good  # and reading the words, better still
        rng = np.random.default_rng(sets["seed"])
        t = np.random.default_rng(0).normal(size=(80, 3))
        p = t + rng.normal(scale=good if sets["finetune.init"] == "pretrained" else 0.6, size=t.shape)
        pred = pd.DataFrame({"utt_id": [f"u{i}" for i in range(80)], "split": "test1",
                             **{f"true_{d}": t[:, j] for j, d in enumerate(("activation", "valence", "dominance"))},
                             **{f"pred_{d}": p[:, j] for j, d in enumerate(("activation", "valence", "dominance"))}})
        ev = {"data": "demo", "splits": {"test1": {d: {"ccc": ccc(t[:, j], p[:, j]), "ci95": [0, 1]}
                                                   for j, d in enumerate(("activation", "valence", "dominance"))}}}
        ev["splits"]["test1"]["mean"] = {"ccc": 0.5, "ci95": [0, 1]}
        ev["splits"]["test1"]["n"] = 80
        if text != "none":  # the text-only baseline beside the model
            ev["text_baseline"] = {"splits": {"test1": {**{d: {"ccc": 0.05 * (j + 1), "ci95": [0, 1]} for j, d in
                                                           enumerate(("activation", "valence", "dominance"))},
                                                        "mean": {"ccc": 0.1, "ci95": [0, 1]}, "n": 80}}}
            for f in (f"{params['data']['text_dir']}/summary.json", params["baseline"]["text_predictions"]):
                (cwd / f).parent.mkdir(parents=True, exist_ok=True)
                (cwd / f).write_text(json.dumps({"source": text}))
        files = {params["evaluate"]["metrics"]: json.dumps(ev), params["evaluate"]["scores"]: "{}",
                 params["pretrain"]["summary"]: "{}", params["finetune"]["summary"]: "{}",
                 params["correlate"]["json"]: json.dumps({"spearman": 0.6, "p_value": 1e-9, "cramers_v": 0.5, "n": 9,
                                                          "paper": {"spearman_from_paper_counts": 0.5}}),
                 params["correlate"]["table_csv"]: "speech_emotion,Negative\nSad,3\n", params["correlate"]["heatmap"]: "png"}
        for f, text in files.items():
            (cwd / f).parent.mkdir(parents=True, exist_ok=True)
            (cwd / f).write_text(text)
        base = pred.assign(**{f"pred_{d}": t[:, j] + np.random.default_rng(99).normal(scale=0.5, size=len(t))
                              for j, d in enumerate(("activation", "valence", "dominance"))})
        for f, df in ((params["evaluate"]["predictions"], pred), (params["baseline"]["predictions"], base)):
            (cwd / f).parent.mkdir(parents=True, exist_ok=True)  # the baseline: the same in every run, as DVC's
            df.to_parquet(cwd / f)
        (cwd / "params.yaml").write_text("changed by the run\n")
    return run


def test_reproduce_runs_collects_resumes_and_restores_params(tmp_path):
    proj = _fake_project(tmp_path)
    original = (proj / "params.yaml").read_text()
    calls = []
    cfg = ReproduceConfig(out=proj / "results" / "s", profile="quick", seeds=2)
    res = reproduce(cfg, proj, runner=_fake_runner(calls), log=lambda m: None, estimate=False)
    assert res["ran"] == 10 and len(calls) == 10
    assert (proj / "params.yaml").read_text() == original
    runs = sorted(p.name for p in (cfg.out / "runs").iterdir())
    assert len(runs) == 10 and "scratch_seed1" in runs
    assert {"eval.json", "predictions.parquet", "run.json"} <= {p.name for p in (cfg.out / "runs" / "sa2sr_seed0").iterdir()}
    assert calls[0][:4] == ["dvc", "exp", "run", "-n"] and "data.max_utterances_per_split=300" in calls[0]
    md = (cfg.out / "tables.md").read_text()
    assert "Table 1" in md and "Table 3" in md and "Paired differences" in md
    row = next(line for line in md.splitlines() if line.startswith("| SA2SR features − ASR features |"))
    assert row.count("*") == 3  # the fake SA2SR runs are better on every dimension: intervals exclude 0
    # a second call does nothing; after an interruption only the missing runs run
    assert reproduce(cfg, proj, runner=_fake_runner(calls), log=lambda m: None, estimate=False)["ran"] == 0
    shutil.rmtree(cfg.out / "runs" / "asr_seed1")
    assert reproduce(cfg, proj, runner=_fake_runner(calls), log=lambda m: None, estimate=False)["ran"] == 1
    assert render_study(cfg.out) == md
    # the same directory with another plan is refused, not mixed
    with pytest.raises(ReproduceError, match="holds a study with other settings"):
        reproduce(ReproduceConfig(out=cfg.out, profile="demo", seeds=2), proj, runner=_fake_runner(calls),
                  log=lambda m: None, estimate=False)


def test_failed_run_keeps_finished_ones_and_restores_params(tmp_path):
    proj = _fake_project(tmp_path)
    original = (proj / "params.yaml").read_text()
    calls, ok = [], _fake_runner([])

    def flaky(cmd, cwd):
        calls.append(cmd)
        if len(calls) == 3:
            raise ReproduceError("boom")
        ok(cmd, cwd)
    cfg = ReproduceConfig(out=tmp_path / "s", profile="quick", seeds=1)
    with pytest.raises(ReproduceError, match="boom"):
        reproduce(cfg, proj, runner=flaky, log=lambda m: None, estimate=False)
    assert (proj / "params.yaml").read_text() == original
    assert len(list((cfg.out / "runs").iterdir())) == 2
    assert reproduce(cfg, proj, runner=ok, log=lambda m: None, estimate=False)["ran"] == 3


def test_training_hours_come_from_the_subsets_present(tmp_path):
    from sa2sr_core.study.estimate import train_hours

    assert train_hours(None) == (pytest.approx(960.9), "the paper's LibriSpeech 960 h")
    hours, source = train_hours(str(_libri(tmp_path, ["train-clean-100", "dev-clean"])))
    assert hours == pytest.approx(100.6) and "train-clean-100" in source


def test_step_throughput_counts_real_frames():
    from sa2sr_core.config.models import EncoderConfig, SA2SRConfig
    from sa2sr_core.study.throughput import step_throughput, synthetic_batches

    cfg = SA2SRConfig(encoder=EncoderConfig(input_dim=40, hidden=8, layers=1), summarizer_hidden=4)
    batches = synthetic_batches(cfg, 6000, 8, n=4)
    assert len(batches) == 4 and all(b.feats.shape[0] * b.feats.shape[1] <= 6000 for b in batches)
    r = step_throughput(cfg, batches, "cpu", warmup=1)
    assert r["steps"] == 3 and r["frames_per_s"] > 0 and 0 <= r["padding_fraction"] < 0.5


def test_real_corpus_roots_reach_every_run_as_absolute_paths(tmp_path):
    """Corpora in their official layouts (not the demo) pass the pre-flight and are set in every run."""
    proj = _fake_project(tmp_path)
    libri = _libri(tmp_path / "corpora", ["train-clean-100", "dev-clean"])
    msp = _msp(tmp_path / "corpora" / "MSP-Podcast", ["Train", "Development", "Test1"])
    iemo = tmp_path / "corpora" / "IEMOCAP_full_release" / "Session1" / "dialog" / "EmoEvaluation"
    iemo.mkdir(parents=True)
    calls, logs = [], []
    cfg = ReproduceConfig(out=tmp_path / "s", profile="quick", seeds=1,
                          corpora={"librispeech": str(libri), "iemocap": str(iemo.parents[2]), "msp_podcast": str(msp)})
    reproduce(cfg, proj, runner=_fake_runner(calls), log=logs.append, estimate=False)
    assert len(calls) == 5
    for cmd in calls:
        assert f"data.librispeech={libri.resolve()}" in cmd and f"data.msp_podcast={msp.resolve()}" in cmd
        assert f"data.iemocap={iemo.parents[2].resolve()}" in cmd
    assert any(m.startswith(f"msp_podcast: {msp}") for m in logs)


def test_the_paper_profile_is_measured_once_per_study(tmp_path, monkeypatch):
    import sa2sr_core.study.estimate as est

    proj = _fake_project(tmp_path)
    measured = []
    monkeypatch.setattr(est, "estimate_pretraining", lambda *a, **k: measured.append(1) or {"step_frames_per_s": 1})
    cfg = ReproduceConfig(out=tmp_path / "s", profile="quick", seeds=1)
    for _ in range(2):
        reproduce(cfg, proj, runner=_fake_runner([]), log=lambda m: None, estimate=True)
    assert measured == [1] and json.loads((cfg.out / "estimate.json").read_text()) == {"step_frames_per_s": 1}


def test_reproduce_on_iemocaps_folds_reports_the_pooled_folds_and_the_classes(tmp_path):
    proj = _fake_project(tmp_path)
    calls, base = [], None

    def cross_validated(cmd, cwd):  # a run on IEMOCAP's five folds: pooled scores, classes beside A/V/D
        params = yaml.safe_load((cwd / "params.yaml").read_text())
        base(cmd, cwd)
        assert "finetune.corpus=iemocap" in cmd
        path = cwd / params["evaluate"]["metrics"]
        ev = json.loads(path.read_text())
        pooled = {**ev["splits"].pop("test1"), "categories": {k: {"value": v, "ci95": [0, 1]}
                                                              for k, v in (("ua", 0.5), ("wa", 0.6), ("macro_f1", 0.4))}}
        ev.update(cross_validation={"pooled": pooled},
                  baseline={"splits": {}, "cross_validation": {"pooled": pooled}})
        path.write_text(json.dumps(ev))
        for f in (params["evaluate"]["predictions"], params["baseline"]["predictions"]):
            pd.read_parquet(cwd / f).assign(split="session1").to_parquet(cwd / f)

    base = _fake_runner(calls)
    cfg = ReproduceConfig(out=proj / "results" / "cv", profile="quick", seeds=1, finetune_corpus="iemocap")
    assert reproduce(cfg, proj, runner=cross_validated, log=lambda m: None, estimate=False)["ran"] == 5
    plan = json.loads((cfg.out / "plan.json").read_text())
    assert plan["split"] == "pooled" and plan["shared_overrides"]["finetune.corpus"] == "iemocap"
    md = (cfg.out / "tables.md").read_text()
    assert "Tables 2-4 (pooled)" in md and "MSP-Podcast Test1 figures" in md and "Paired differences (pooled" in md
    assert "| SA2SR features | demo | 1 | 0.500 | 0.600 | 0.400 |" in md
    assert "| Baseline: logistic regression on LFBE functionals | demo | 1 |" in md
    with pytest.raises(ReproduceError, match="neither msp_podcast nor iemocap nor a manifest"):
        reproduce(ReproduceConfig(out=proj / "results" / "x", profile="quick", finetune_corpus="nowhere.csv"), proj,
                  runner=cross_validated, log=lambda m: None, estimate=False)


def test_words_beside_sound_rows_and_their_paired_comparisons(tmp_path):
    """--text gold,asr: ASR / SA2SR features + text per source beside the paper's settings, the text-only rows and
    the comparisons that ask whether SA2SR still adds once the words are read, and whether the words add."""
    proj = _fake_project(tmp_path)
    calls = []
    cfg = ReproduceConfig(out=proj / "results" / "t", profile="quick", seeds=2, text=("gold", "asr"))
    assert reproduce(cfg, proj, runner=_fake_runner(calls), log=lambda m: None, estimate=False)["ran"] == 18
    sources = [dict(c.split("=", 1) for c in call[call.index("-S") + 1::2] if "=" in c).get("finetune.text.source")
               for call in calls]
    assert sources[:9] == ["none", "none", "none", "gold", "asr", "none", "gold", "asr", "none"]
    assert calls[-1][4].endswith("-sa2sr-s0")  # the workspace ends on params.yaml's own setting
    assert (cfg.out / "runs" / "sa2sr_text_asr_seed0" / "text.json").is_file()
    md = (cfg.out / "tables.md").read_text()
    assert "### Table 5 (gold)" in md and "### Table 5 (asr)" in md
    assert "| Text only (gold): ridge on the text features | demo | 2 | 0.050 ± 0.000 | 0.100 ± 0.000 |" in md
    row = next(line for line in md.splitlines()
               if line.startswith("| SA2SR features + text (asr) − ASR features + text (asr) |"))
    assert row.count("*") == 3
    assert any(line.startswith("| SA2SR features + text (gold) − SA2SR features |") for line in md.splitlines())
    with pytest.raises(ReproduceError, match="--text gold,gold"):
        ReproduceConfig(out=cfg.out, text=("gold", "gold"))
    with pytest.raises(ReproduceError, match="--text words"):
        ReproduceConfig(out=cfg.out, text=("words",))


def _git_project(tmp_path: Path) -> Path:
    proj = _fake_project(tmp_path)
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=proj, check=True, capture_output=True)
    return proj


def test_devices_run_pretraining_groups_at_once_each_in_its_workspace_with_the_sequential_tables(tmp_path):
    proj = _git_project(tmp_path)
    (proj / "params.yaml").write_text((proj / "params.yaml").read_text() + "# the user's uncommitted edit\n")
    seq = ReproduceConfig(out=proj / "results" / "seq", profile="quick", seeds=2)
    assert reproduce(seq, proj, runner=_fake_runner([]), log=lambda m: None, estimate=False)["ran"] == 10
    calls, where, together = [], [], threading.Barrier(2, timeout=30)
    fake = _fake_runner(calls)

    def runner(cmd, cwd, env=None, log_path=None):
        where.append((cmd[4], Path(cwd), env["CUDA_VISIBLE_DEVICES"]))
        assert (Path(cwd) / "params.yaml").read_text().endswith("# the user's uncommitted edit\n")
        if len(where) <= 2:
            together.wait()  # the first run of each worker: both in flight at once, or this times out
        fake(cmd, cwd)

    par = ReproduceConfig(out=proj / "results" / "par", profile="quick", seeds=2, devices=("cuda:0", "cuda:1"))
    assert reproduce(par, proj, runner=runner, log=lambda m: None, estimate=False)["ran"] == 10
    strip = lambda md: md.split("\n", 1)[1]  # noqa: E731  (the first line names the study's folder)
    assert strip((par.out / "tables.md").read_text()) == strip((seq.out / "tables.md").read_text())
    assert sorted(p.name for p in (par.out / "runs").iterdir()) == sorted(p.name for p in (seq.out / "runs").iterdir())
    # a pre-training group (one lambda and seed) runs in one workspace, on one device
    group = lambda name: (name.split("-")[1].startswith("sa2sr"), name[-1])  # noqa: E731  (lambda > 0?, seed)
    placed = {}
    for name, cwd, dev in where:
        placed.setdefault(group(name), set()).add((cwd, dev))
    assert all(len(v) == 1 for v in placed.values()) and len(placed) == 4
    assert {cwd for _, cwd, _ in where} == {proj / ".dvc" / "tmp" / "sa2sr-workers" / w for w in ("w0", "w1")}
    assert {dev for _, _, dev in where} == {"0", "1"}
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=proj, capture_output=True, text=True).stdout
    for w in ("w0", "w1"):  # a clone at the project's commit, on the project's DVC cache
        ws = proj / ".dvc" / "tmp" / "sa2sr-workers" / w
        assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=ws, capture_output=True, text=True).stdout == head
        assert str((proj / ".dvc" / "cache").resolve()) in (ws / ".dvc" / "config.local").read_text()
    assert (proj / "params.yaml").read_text().endswith("# the user's uncommitted edit\n")  # the project untouched
    # interrupted: the missing runs run again, on the workers; a finished study runs nothing
    shutil.rmtree(par.out / "runs" / "sa2sr_seed0")
    assert reproduce(par, proj, runner=runner, log=lambda m: None, estimate=False)["ran"] == 1
    assert reproduce(par, proj, runner=runner, log=lambda m: None, estimate=False)["ran"] == 0


def test_a_failed_run_on_a_device_stops_the_workers_and_keeps_the_finished_runs(tmp_path):
    proj = _git_project(tmp_path)
    fake, seen = _fake_runner([]), []

    def runner(cmd, cwd, env=None, log_path=None):
        seen.append(cmd[4])
        if "sa2sr_frozen" in cmd[4].replace("-", "_"):
            raise ReproduceError("a run failed")
        fake(cmd, cwd)

    cfg = ReproduceConfig(out=proj / "results" / "s", profile="quick", seeds=1, devices=("cpu", "cpu"))
    with pytest.raises(ReproduceError, match="a run failed"):
        reproduce(cfg, proj, runner=runner, log=lambda m: None, estimate=False)
    done = {p.name for p in (cfg.out / "runs").iterdir()} if (cfg.out / "runs").is_dir() else set()
    assert "sa2sr_seed0" not in done and "sa2sr_frozen_seed0" not in done
    with pytest.raises(ReproduceError, match="--devices cuda:0,gpu1: gpu1 is not a device"):
        ReproduceConfig(out=cfg.out, devices=("cuda:0", "gpu1"))
