"""Per-epoch curves for DVC: the whole training history written with dvclive once a run ends.

Written from the checkpointed history, not appended during training, so the curves are complete and
identical whether or not the run was interrupted and resumed (DVC clears a stage's plot outputs before
re-running it)."""

from __future__ import annotations

from pathlib import Path


def write_history(live_dir: str | Path, history: list[dict], step_key: str = "epoch") -> None:
    from dvclive import Live

    with Live(str(live_dir), resume=False, dvcyaml=None, save_dvc_exp=False) as live:
        for row in history:
            for k, v in row.items():
                if k != step_key:
                    live.log_metric(k, v)
            live.next_step()
