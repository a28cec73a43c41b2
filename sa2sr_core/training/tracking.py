"""Per-epoch curves for DVC: the whole training history written with dvclive once a run ends.

Written from the checkpointed history, not appended during training, so the curves are complete and
identical whether or not the run was interrupted and resumed (DVC clears a stage's plot outputs before
re-running it). The folds of a cross-validation each get their curves, as `fold-<k>/<metric>`."""

from __future__ import annotations

from pathlib import Path


def write_history(live_dir: str | Path, history: list[dict] | dict, step_key: str = "epoch") -> None:
    """history: one run's rows, or {fold name (None: the one partition): rows}."""
    from dvclive import Live

    runs = history if isinstance(history, dict) else {None: history}
    with Live(str(live_dir), resume=False, dvcyaml=None, save_dvc_exp=False) as live:
        for name, rows in runs.items():
            live.step = 0
            for row in rows:
                for k, v in row.items():
                    if k != step_key:
                        live.log_metric(k if name is None else f"{name}/{k}", v)
                live.next_step()
