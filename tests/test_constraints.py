"""constraints.txt pins what scripts/setup.sh installs: every dependency pyproject names, at a version pyproject
allows, so a fresh clone's `dvc repro` rewrites the committed outputs byte for byte (pandas and pyarrow write their
versions into every Parquet file)."""

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for n, line in enumerate((ROOT / "constraints.txt").read_text().splitlines(), start=1):
        line = line.split("#")[0].strip()
        if line:
            name, sep, v = line.partition("==")
            assert sep and v, f"constraints.txt:{n}: {line!r} is not name==version"
            pins[canonicalize_name(name)] = v
    return pins


def test_every_dependency_is_pinned_where_pyproject_allows_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    reqs = [Requirement(r) for r in project["dependencies"] + sum(project["optional-dependencies"].values(), [])]
    missing = [r.name for r in reqs if canonicalize_name(r.name) not in pins]
    assert not missing, f"constraints.txt has no pin for {missing}"
    outside = [f"{r.name}=={pins[canonicalize_name(r.name)]} against {r.specifier}" for r in reqs
               if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)]
    assert not outside, f"constraints.txt pins versions pyproject does not allow: {outside}"
    assert "constraints.txt" in (ROOT / "scripts" / "setup.sh").read_text()


def test_the_environment_that_writes_the_outputs_is_the_pinned_one():
    pins = _pins()
    for name in ("pandas", "pyarrow", "numpy", "torch", "matplotlib", "scikit-learn"):
        assert version(name) == pins[name], f"{name} {version(name)} installed, constraints.txt pins {pins[name]}: " \
                                            "run scripts/setup.sh"
