"""`sa2sr reproduce --devices`: one worker per device, each in its own workspace, running whole pre-training
groups of the study at once (docs/reproducing.md).

Each device has a worker with its own workspace, a `git clone --shared` of the project under
.dvc/tmp/sa2sr-workers/ that shares the project's DVC cache (and so its run cache: features and labels are checked
out, not recomputed), with the user's uncommitted edits to tracked files copied in. A worker takes a whole
pre-training group at a time (one lambda and seed: its pre-training, then the fine-tunings that share it, in the
sequential order) and runs each with `dvc exp run` there, its device chosen by CUDA_VISIBLE_DEVICES (cpu: none
visible), so the params, and with them the results, are those of the sequential study. Why not DVC's queue
(`dvc exp run --queue` + `dvc queue start -j N`)? Its workers share one environment, so a run's device would have
to be a param (another params hash per device: other results, no run cache), and each queued run starts in a fresh
temporary workspace, so the fine-tunings of a group would each pre-train again (a stage with persisted outputs is
not in DVC's run cache).
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from sa2sr_core.errors import Sa2srError

#: Where the workers' workspaces live: inside .dvc/tmp, which git and DVC leave alone.
WORKERS_DIR = Path(".dvc") / "tmp" / "sa2sr-workers"
R = TypeVar("R")


class WorkerError(Sa2srError):
    """A worker's workspace could not be made."""


def device_env(device: str) -> dict[str, str]:
    """A run's device as its environment: the stages' device `auto` finds that GPU (as cuda:0), or none at all."""
    return {"CUDA_VISIBLE_DEVICES": device.split(":", 1)[1] if device.startswith("cuda:") else ""}


def _git(args: list[str], cwd: Path, stdin: str | None = None) -> str:
    res = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, text=True)
    if res.returncode != 0:
        raise WorkerError(f"git {' '.join(args)} failed in {cwd}: {res.stderr.strip()[-500:]}")
    return res.stdout


def make_workspace(project: Path, path: Path) -> Path:
    """A worker's workspace: a shared clone of the project at its HEAD (kept, persisted outputs and all, when it is
    one at that commit already), plus the project's uncommitted edits to tracked files, on the project's DVC cache."""
    project = project.resolve()
    head = _git(["rev-parse", "HEAD"], project).strip()
    if (path / ".git").is_dir() and _git(["rev-parse", "HEAD"], path).strip() == head:
        _git(["reset", "--hard", "--quiet", "HEAD"], path)  # the last run's params.yaml and dvc.lock
    else:
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        _git(["clone", "--shared", "--no-checkout", "--quiet", str(project), str(path)], project)
        _git(["checkout", "--quiet", "--detach", head], path)
    diff = _git(["diff", "--binary", "HEAD"], project)
    if diff.strip():
        _git(["apply", "--whitespace=nowarn"], path, stdin=diff)
    res = subprocess.run([sys.executable, "-m", "dvc", "cache", "dir"], cwd=project, capture_output=True, text=True)
    cache = (project / res.stdout.strip()).resolve() if res.returncode == 0 and res.stdout.strip() else \
        project / ".dvc" / "cache"
    res = subprocess.run([sys.executable, "-m", "dvc", "cache", "dir", "--local", str(cache)], cwd=path,
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise WorkerError(f"dvc cache dir --local {cache} failed in {path}: {res.stderr.strip()[-500:]}")
    return path


def fetch_experiments(project: Path, workspace: Path) -> None:
    """The workspace's experiments into the project's git, so that `dvc exp show` there lists them."""
    _git(["fetch", "--quiet", str(workspace.resolve()), "+refs/exps/*:refs/exps/*", "^refs/exps/exec/*"], project)


def run_on_devices(devices: Sequence[str], groups: list[list[R]], project: Path,
                   run_one: Callable[[R, Path, str], None], collect: Callable[[R, Path], None]) -> None:
    """One worker per device, each in its own workspace, taking groups (runs that must share a workspace, in
    order) until none is left: run_one(run, workspace, device), then, one worker at a time, collect(run,
    workspace) and the run's experiment into the project. The first failure stops the other workers after their
    current run and is raised here."""
    todo, lock, errors = queue.Queue(), threading.Lock(), []
    for g in groups:
        todo.put(g)

    def work(k: int, device: str) -> None:
        try:
            ws = make_workspace(project, project / WORKERS_DIR / f"w{k}")
            while not errors:
                try:
                    group = todo.get_nowait()
                except queue.Empty:
                    return
                for run in group:
                    if errors:
                        return
                    run_one(run, ws, device)
                    with lock:
                        collect(run, ws)
                        fetch_experiments(project, ws)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k, d), daemon=True) for k, d in enumerate(devices)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    if errors:
        raise errors[0]
