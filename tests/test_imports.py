"""The house's rules, read from the source: stage deps that cannot drift, no import cycles, each name in one
place, audio opened in one module."""

import ast
import shutil
from pathlib import Path

import pytest

from sa2sr_core.names import DIMS, SENTIMENT_CLASSES
from tools.code_deps import (
    DATA_STAGES,
    ROOT,
    code_deps,
    cycles,
    direct_imports,
    house_problems,
    impact,
    stage_dep_problems,
)

PACKAGE_FILES = sorted((ROOT / "sa2sr_core").rglob("*.py"))
PROJECT_FILES = PACKAGE_FILES + sorted((ROOT / "stages").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))


def test_dvc_yaml_lists_exactly_the_code_each_stage_runs():
    assert stage_dep_problems(ROOT / "dvc.yaml") == []


def test_a_missing_dep_is_named_with_how_the_stage_reaches_it(tmp_path):
    scratch = tmp_path / "dvc.yaml"
    text = (ROOT / "dvc.yaml").read_text()
    start = text.index("\n  finetune:")
    end = text.index("\n  baseline:")
    stage = text[start:end]
    assert "      - sa2sr_core/models/classical.py\n" in stage
    scratch.write_text(text[:start] + stage.replace("      - sa2sr_core/models/classical.py\n", "") + text[end:])
    problems = stage_dep_problems(scratch)
    assert problems == [f"stage finetune: dvc.yaml does not list sa2sr_core/models/classical.py (stages/finetune.py -> "
                        f"sa2sr_core/training/finetune.py -> sa2sr_core/models/classical.py); run "
                        f"`python -m tools.code_deps --write`"]
    # and a stage listing a module it never imports is named too (it would re-run for nothing)
    scratch.write_text(text.replace("      - stages/report.py\n", "      - stages/report.py\n"
                                    "      - sa2sr_core/training/loop.py\n"))
    assert any(p.startswith("stage report: dvc.yaml lists sa2sr_core/training/loop.py") for p in stage_dep_problems(scratch))


def test_the_classical_models_are_a_dep_of_exactly_the_stages_that_run_them():
    users = {s for s in ("pretrain", "finetune", "baseline", "evaluate", "package", "report", "features")
             if "sa2sr_core/models/classical.py" in code_deps(f"stages/{s}.py")}
    assert users == {"finetune", "baseline"}


#: The floors of sa2sr_core, bottom up: a sub-package imports only the leaves (top-level modules) and the floors
#: below its own. training, evaluation and inference stand side by side on models and features: none imports another.
FLOORS = [("config",), ("corpora",), ("features",), ("sentiment",), ("models",), ("training", "evaluation", "inference"),
          ("study",)]


def test_each_floor_imports_only_the_leaves_and_the_floors_below_it():
    floor = {pkg: i for i, pkgs in enumerate(FLOORS) for pkg in pkgs}
    package_dirs = {p.name for p in (ROOT / "sa2sr_core").iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert package_dirs - {"__pycache__"} == set(floor), "a new sub-package needs a floor in FLOORS"
    problems = []
    for path in PACKAGE_FILES:
        rel = path.relative_to(ROOT / "sa2sr_core").parts
        if rel == ("cli.py",):  # the `sa2sr` command: the roof, above every floor
            continue
        if len(rel) == 1:  # a leaf: it imports no sub-package
            problems += [f"{path.name} (a leaf) imports {d.relative_to(ROOT)}" for d in direct_imports(path)
                         if len(d.relative_to(ROOT / "sa2sr_core").parts) > 1]
            continue
        own = rel[0]
        for dep in direct_imports(path):
            parts = dep.relative_to(ROOT / "sa2sr_core").parts
            if len(parts) > 1 and parts[0] != own and floor[parts[0]] >= floor[own]:
                problems.append(f"{'/'.join(rel)} imports {'/'.join(parts)}: {parts[0]} is not below {own}")
    assert problems == []


def test_training_evaluation_and_inference_stand_side_by_side():
    for path in PACKAGE_FILES:
        rel = path.relative_to(ROOT / "sa2sr_core").parts
        if rel[0] in ("training", "evaluation", "inference"):
            others = {"training", "evaluation", "inference"} - {rel[0]}
            bad = [d for d in direct_imports(path) if d.relative_to(ROOT / "sa2sr_core").parts[0] in others]
            assert not bad, (path, bad)


def test_no_import_cycles():
    assert cycles() == []


def test_a_cycle_is_found(tmp_path):
    pkg = tmp_path / "sa2sr_core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""x"""\n')
    (pkg / "a.py").write_text("from sa2sr_core.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from sa2sr_core import a\n")
    assert cycles(tmp_path) == [["sa2sr_core/a.py", "sa2sr_core/b.py"], ["sa2sr_core/b.py", "sa2sr_core/a.py"]]


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_imports_a_stage_a_benchmark_a_test_helper_or_a_tool():
    bad = [str(p.relative_to(ROOT)) for p in PACKAGE_FILES
           if any(n.split(".")[0] in ("stages", "benchmarks", "tests", "tools", "fixtures") for n in _imported_names(p))]
    assert bad == []


def test_package_init_files_hold_no_code():
    """So a stage's deps need not list them (tools.code_deps skips __init__.py)."""
    for p in PACKAGE_FILES:
        if p.name == "__init__.py":
            body = ast.parse(p.read_text()).body
            assert all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body), p


@pytest.mark.parametrize("names", [DIMS, SENTIMENT_CLASSES], ids=["DIMS", "SENTIMENT_CLASSES"])
def test_shared_names_are_defined_once(names):
    """No literal ('activation', 'valence', 'dominance') or ('negative', 'neutral', 'positive') outside names.py."""
    found = []
    for p in PROJECT_FILES:
        if p.name == "names.py":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.Tuple, ast.List)) and [getattr(e, "value", None) for e in node.elts] == list(names):
                found.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_audio_is_read_only_through_audio_py():
    readers = {"read", "info", "SoundFile", "load", "blocks"}
    found = []
    for p in PACKAGE_FILES:
        if p.name == "audio.py":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in readers and isinstance(node.value, ast.Name)
                    and node.value.id in ("sf", "soundfile", "librosa", "torchaudio")):
                found.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}")
    assert found == []


def test_the_import_reader_sees_lazy_and_submodule_imports(tmp_path):
    pkg = tmp_path / "sa2sr_core"
    (pkg / "models").mkdir(parents=True)
    for f in ("__init__.py", "models/__init__.py"):
        (pkg / f).write_text('"""x"""\n')
    (pkg / "io.py").write_text("")
    (pkg / "models" / "enc.py").write_text("")
    (pkg / "m.py").write_text("from sa2sr_core import io\n\ndef f():\n    from sa2sr_core.models import enc\n")
    assert direct_imports(pkg / "m.py", tmp_path) == (pkg / "io.py", pkg / "models" / "enc.py")
    shutil.rmtree(pkg)


def test_an_edit_re_runs_only_what_it_can_change():
    """For every module, the stages an edit makes out of date: no data stage (nor correlate) for training code;
    the labeller not under features; the ridge not under pretrain."""
    out = impact(ROOT / "dvc.yaml")
    assert set(out) == {str(p.relative_to(ROOT)) for p in PACKAGE_FILES if p.name != "__init__.py"}
    assert house_problems(ROOT / "dvc.yaml") == []
    for module in ("sa2sr_core/training/schedule.py", "sa2sr_core/training/loop.py", "sa2sr_core/models/bilstm.py",
                   "sa2sr_core/training/checkpoint.py", "sa2sr_core/config/training.py", "sa2sr_core/config/models.py",
                   "sa2sr_core/vocab.py"):
        assert not set(out[module]) & set(DATA_STAGES), (module, out[module])
        assert "pretrain" in out[module], module
    for module in ("sa2sr_core/models/regressor.py", "sa2sr_core/models/predictor.py", "sa2sr_core/models/loaders.py"):
        assert "pretrain" not in out[module] and not set(out[module]) & set(DATA_STAGES), (module, out[module])
    assert out["sa2sr_core/models/predictor.py"] == ["package"]
    assert "features" not in out["sa2sr_core/sentiment/labeler.py"]
    assert "pretrain" not in out["sa2sr_core/evaluation/baseline.py"]
    assert set(out["sa2sr_core/training/schedule.py"]) == {"pretrain", "finetune"}
    assert out["sa2sr_core/config/demo.py"] == ["demo_data"]


def test_a_data_stage_given_training_code_fails(tmp_path):
    scratch = tmp_path / "dvc.yaml"
    text = (ROOT / "dvc.yaml").read_text()
    assert "        - stages/features.py\n" in text
    scratch.write_text(text.replace("        - stages/features.py\n",
                                    "        - stages/features.py\n        - sa2sr_core/training/schedule.py\n"))
    assert house_problems(scratch) == [
        "stage features: depends on training code sa2sr_core/training/schedule.py, so editing it re-runs features "
        "(and re-extracts or re-labels a corpus): move what features needs out of sa2sr_core/training/schedule.py"]
