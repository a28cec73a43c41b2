"""The project's import graph, read from the source (nothing is imported or run): which sa2sr_core modules a
file reaches, the code each DVC stage depends on, and which stages an edit of each module makes out of date. The
tests hold dvc.yaml and the package to it (stage deps that cannot drift, no import cycles, no data stage that
depends on training code). A development tool, outside the runtime package:

    python -m tools.code_deps            # each stage's code deps
    python -m tools.code_deps --write    # rewrite them in dvc.yaml
    python -m tools.code_deps --impact   # for every sa2sr_core module, the stages an edit re-runs

Every import counts, including those inside functions: a module a stage may run is a module it depends on.
Package __init__.py files hold no code (a test checks it), so they are not listed."""

from __future__ import annotations

import ast
import re
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "sa2sr_core"


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The file of a dotted sa2sr_core module (its __init__.py for a package), if there is one."""
    base = root.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


@lru_cache(maxsize=None)
def direct_imports(path: Path, root: Path = ROOT) -> tuple[Path, ...]:
    """The sa2sr_core module files `path` imports anywhere in its body (modules, not packages' __init__)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]  # `from sa2sr_core import checkpoint`
    found = []
    for n in names:
        if n.split(".")[0] == PACKAGE and (f := module_file(n, root)) and f.name != "__init__.py" and f != path:
            found.append(f)
    return tuple(sorted(set(found)))


def reachable(path: Path, root: Path = ROOT) -> dict[Path, Path | None]:
    """Every sa2sr_core module `path` reaches, mapped to the module that imports it (for naming the chain)."""
    parent: dict[Path, Path | None] = {}
    todo = [path]
    while todo:
        cur = todo.pop()
        for dep in direct_imports(cur, root):
            if dep not in parent and dep != path:
                parent[dep] = cur
                todo.append(dep)
    return parent


def chain(parents: dict[Path, Path | None], start: Path, target: Path, root: Path = ROOT) -> str:
    """'stages/x.py -> sa2sr_core/a.py -> ...' : how `start` reaches `target`."""
    hops, cur = [target], target
    while cur != start and parents.get(cur) is not None:
        cur = parents[cur]
        hops.append(cur)
    return " -> ".join(str(p.relative_to(root)) for p in reversed(hops))


def stage_code(cmd: str) -> str | None:
    """The stage script a dvc.yaml cmd runs (stages/<name>.py), if any."""
    m = re.search(r"\bstages/\w+\.py\b", cmd)
    return m.group(0) if m else None


def code_deps(script: str, root: Path = ROOT) -> list[str]:
    """What a stage running `script` must list as code deps: the script and every module it reaches."""
    return [script, *sorted(str(p.relative_to(root)) for p in reachable(root / script, root))]


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Import cycles among sa2sr_core modules: for each module A that imports B which reaches A back, [A, B]."""
    files = sorted(p for p in (root / PACKAGE).rglob("*.py") if p.name != "__init__.py")
    out = []
    for a in files:
        for b in direct_imports(a, root):
            if a in reachable(b, root):
                out.append([str(a.relative_to(root)), str(b.relative_to(root))])
    return out


def is_code(dep: str) -> bool:
    return dep.endswith(".py") and dep.split("/")[0] in ("stages", PACKAGE)


def stage_dep_problems(dvc_yaml: Path, root: Path = ROOT) -> list[str]:
    """Where dvc.yaml's code deps and the imports disagree: one line per stage and file, naming the chain that
    reaches a missing file. Empty when they are in step."""
    import yaml

    problems = []
    for name, st in yaml.safe_load(dvc_yaml.read_text())["stages"].items():
        body = st.get("do", st)
        script = stage_code(body["cmd"])
        if not script:
            continue
        listed = {d for d in body.get("deps", []) if is_code(d)}
        parents = reachable(root / script, root)
        for dep in sorted(set(code_deps(script, root)) - listed):
            how = chain(parents, root / script, root / dep, root) if dep != script else "its own script"
            problems.append(f"stage {name}: dvc.yaml does not list {dep} ({how}); run "
                            f"`python -m tools.code_deps --write`")
        for dep in sorted(listed - set(code_deps(script, root))):
            problems.append(f"stage {name}: dvc.yaml lists {dep}, which {script} does not import (an edit there "
                            f"would re-run the stage for nothing); run `python -m tools.code_deps --write`")
    return problems


#: The stages that read corpora, features and transcripts: an edit of training code must never re-run them.
DATA_STAGES = ("demo_data", "prepare", "features", "pseudo_label", "correlate", "own_corpus", "features_own")
#: Training code: the loop, its schedule, checkpoints and tasks, and the networks.
TRAINING_CODE = ("sa2sr_core/training/", "sa2sr_core/models/")


def stage_code_deps(dvc_yaml: Path) -> dict[str, set[str]]:
    """{stage: the code files dvc.yaml lists as its deps}."""
    import yaml

    return {name: {d for d in st.get("do", st).get("deps", []) if is_code(d)}
            for name, st in yaml.safe_load(dvc_yaml.read_text())["stages"].items()}


def impact(dvc_yaml: Path, root: Path = ROOT) -> dict[str, list[str]]:
    """{sa2sr_core module: the stages an edit of it makes out of date}, for every module of the package."""
    deps = stage_code_deps(dvc_yaml)
    mods = sorted(str(p.relative_to(root)) for p in (root / PACKAGE).rglob("*.py") if p.name != "__init__.py")
    return {m: [s for s in deps if m in deps[s]] for m in mods}


def house_problems(dvc_yaml: Path, root: Path = ROOT) -> list[str]:
    """A data stage that an edit of training code would re-run: one line per stage and module."""
    return [f"stage {s}: depends on training code {m}, so editing it re-runs {s} (and re-extracts or re-labels "
            f"a corpus): move what {s} needs out of {m}"
            for m, stages in impact(dvc_yaml, root).items() if m.startswith(TRAINING_CODE)
            for s in stages if s in DATA_STAGES]


def write_code_deps(dvc_yaml: Path, root: Path = ROOT) -> list[str]:
    """Rewrite the code entries (stages/*.py, sa2sr_core/**.py) of every stage's deps in `dvc_yaml` to what the
    stage's script reaches, keeping every other line (data deps, comments) as it is; returns the stages changed."""
    import yaml

    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    lines, out, changed, stage = dvc_yaml.read_text().splitlines(), [], [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^  [\w@-]+:\s*$", line):
            stage = line.strip()[:-1]
        out.append(line)
        m = re.match(r"^(\s*)deps:\s*$", line)
        if m and stage in stages:
            item = m.group(1) + "  - "
            j, old = i + 1, []
            while j < len(lines) and lines[j].startswith(item):
                old.append(lines[j][len(item):].strip())
                j += 1
            body = stages[stage].get("do", stages[stage])
            want = code_deps(stage_code(body["cmd"]), root)
            new = want + [d for d in old if not is_code(d)]
            changed += [stage] if new != old else []
            out += [item + d for d in new]
            i = j
            continue
        i += 1
    dvc_yaml.write_text("\n".join(out) + "\n")
    return changed


def main() -> None:
    """--write: rewrite dvc.yaml's code deps from the imports; else print each stage's code deps."""
    import yaml

    if "--impact" in sys.argv[1:]:
        for module, stages in impact(ROOT / "dvc.yaml").items():
            print(f"{module}: {', '.join(stages) or '(no stage)'}")
        return
    if "--write" in sys.argv[1:]:
        print("dvc.yaml: code deps rewritten for", write_code_deps(ROOT / "dvc.yaml") or "no stage (all in step)")
        return
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, st in stages.items():
        script = stage_code(st.get("do", st)["cmd"])
        if script:
            print(f"{name}:\n" + "".join(f"  - {d}\n" for d in code_deps(script)))


if __name__ == "__main__":
    sys.exit(main())
