"""The one training loop. Pre-training (CTC + lambda * sentiment CE) and fine-tuning (CCC) are two `Task`s; the
loop owns everything else: seeding and device, DDP (under torchrun), bf16 autocast, background prefetch, the
learning-rate schedule (warm-up, cosine, plateau decay), the update step, early stopping with `min_delta`,
the history, the best model and the resumable checkpoint.

    for each epoch until max_epochs, or patience epochs without a better selection score:
        for each batch:  lr <- schedule(update);  train_step: forward, loss, backward, clip, Adam
        validate -> history row -> better than the best by min_delta? save the model : count a bad epoch
    (a task may enter its start as epoch 0: fine-tuning's is the classical baselines, kept if no epoch beats them)
        checkpoint (model, optimizer, RNG, history): a killed run resumes here, bit for bit

`train_step` is also what `sa2sr_core.study.throughput` and every benchmark time, so a measured step is the step
that trains.
"""

from __future__ import annotations

import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.distributed as dist

from sa2sr_core.config.training import TrainingConfig
from sa2sr_core.device import pick_device
from sa2sr_core.features.batches import Batch, ShardDataset, prefetch
from sa2sr_core.training import checkpoint
from sa2sr_core.training.schedule import lr_factor, set_lr

#: loss_fn(net, batch) -> (the loss to minimise, {name: term to log}); "loss" logs as train_loss, x as train_loss_x
LossFn = Callable[[torch.nn.Module, Batch], tuple[torch.Tensor, dict[str, torch.Tensor]]]


@dataclass
class Setup:
    """What a task's setup returns, the loop's whole state besides the checkpoint: the model on the device, its
    optimizer, the training and validation batches, the run's fingerprint (a checkpoint resumes only into the same
    run), for a decaying schedule the batches per epoch, and `report`: what the task's caller gets back from `fit`
    beside the history (what was skipped, the encoder's description)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    train: ShardDataset
    valid: ShardDataset
    fingerprint: str
    batches_per_epoch: Callable[[], int] = lambda: 0
    find_unused_parameters: bool = False  # DDP: some parameters may get no gradient in a step (a frozen phase)
    report: dict = field(default_factory=dict)


class Task:
    """One kind of training: its data and model, its loss, its validation, how its epochs are selected."""

    cfg: TrainingConfig
    score: str  # the history key selection compares
    maximize: bool  # whether a larger score is better
    start_candidate: bool = False  # the untrained model (fine-tuning: the classical baselines) competes as epoch 0

    def setup(self, device: torch.device, world: int, log) -> Setup:
        raise NotImplementedError

    def loss(self, net: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def before_update(self, model: torch.nn.Module, update: int) -> None:
        """Called before each update (0-based count over the whole run, resumed runs included)."""

    def usable(self, batch: Batch) -> bool:
        """Whether a training batch takes part (fine-tuning's CCC needs two utterances)."""
        return True

    def train_mode(self, net: torch.nn.Module) -> None:
        net.train()

    def validate(self, model: torch.nn.Module, valid: ShardDataset, device) -> dict:
        """Validation metrics for the history row; keys starting with '_' only reach `describe`."""
        raise NotImplementedError

    def save_best(self, model: torch.nn.Module, out_dir: Path) -> None:
        raise NotImplementedError

    def describe(self, row: dict, val: dict, improved: bool) -> str:
        return f"epoch {row['epoch']}: {self.score} {row[self.score]:.3f}{' *' if improved else ''}"


def scaled_groups(model: torch.nn.Module, part: torch.nn.Module, scale: float) -> list[dict]:
    """Trainable parameters as optimizer groups: the rest of the model first (its rate is the one logged), then
    `part` at `scale` times the rate (set_lr reads `lr_scale`); the second group only when `part` trains."""
    ids = {id(p) for p in part.parameters()}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    own = [p for p in part.parameters() if p.requires_grad]
    return [{"params": rest, "lr_scale": 1.0}] + ([{"params": own, "lr_scale": scale}] if own else [])


def train_step(net: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn: LossFn, batch: Batch, grad_clip: float,
               amp: bool = False) -> tuple[list[str], torch.Tensor]:
    """One update: forward and loss (bf16 autocast when amp), backward, gradient clipping, optimizer step.
    Returns the logged terms' names and their detached values (one float vector, still on the device)."""
    with torch.autocast(batch.feats.device.type, dtype=torch.bfloat16, enabled=amp):
        loss, terms = loss_fn(net, batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    opt.step()
    return list(terms), torch.stack(list(terms.values())).detach().float()


def _history_key(term: str) -> str:
    return "train_loss" if term == "loss" else f"train_loss_{term}"


def _better(score: float, best: float, maximize: bool, min_delta: float) -> bool:
    return score > best + min_delta if maximize else score < best - min_delta


def fit(task: Task, out_dir: str | Path, on_epoch_end: Callable[[int, dict], None] | None = None,
        log: Callable[[str], None] = print) -> dict:
    """Train (or resume) `task`; the best epoch's model goes to out_dir. Returns the selected epoch's row, the
    history, this process's `timing` (train seconds and frames/s of each epoch it ran: not of a resumed run's
    earlier epochs), epochs run, why it stopped, the live model, and the task's setup report."""
    cfg, out_dir = task.cfg, Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    device = pick_device(cfg.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", rank % torch.cuda.device_count())
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)

    run = task.setup(device, world, log)
    model, opt = run.model, run.optimizer
    net = (torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=run.find_unused_parameters)
           if distributed else model)
    ckpt_path = out_dir / "checkpoint.pt"
    st = checkpoint.resume(ckpt_path, run.fingerprint, model, opt, log)
    amp = cfg.amp and device.type == "cuda"
    depth = cfg.prefetch if cfg.prefetch >= 0 else (4 if device.type == "cuda" else 0)
    total = run.batches_per_epoch() * cfg.max_epochs if cfg.schedule != "constant" else 0
    if task.start_candidate and st.epoch == 0 and st.best is None:  # the start is a candidate like any epoch
        val = task.validate(model, run.valid, device)
        st.start = {"epoch": 0, **{k: v for k, v in val.items() if not k.startswith("_")}}
        st.best = dict(st.start)
        if rank == 0:
            task.save_best(model, out_dir)
            log(f"epoch 0 (the start): {task.score} {st.start[task.score]:.3f}")
    # the schedule is a pure function of the update count and the plateau scale: both follow from the history
    step = int(st.history[-1]["updates"]) if st.history else 0
    scale = float(st.history[-1]["lr_next"]) / cfg.lr if st.history else 1.0
    # wall-clock per epoch of this process: beside the history, never in it, so nothing a stage writes from the
    # history (checkpoint, model directory, metrics, curves, report, hence dvc.lock) depends on the machine's speed
    timing = []
    for epoch in range(st.epoch, cfg.max_epochs):
        if st.bad_epochs >= cfg.patience:
            break
        task.train_mode(net)
        t0, frames, padded, nb, names, sums = time.perf_counter(), 0, 0, 0, [], None
        batches = run.train.epoch(epoch, cfg.seed, shuffle=True, rank=rank, world=world,
                                  short_first=epoch < cfg.short_first_epochs)
        for batch in prefetch(batches, depth, pin=device.type == "cuda"):
            if not task.usable(batch):
                continue
            set_lr(opt, cfg.lr * scale * lr_factor(step, total, cfg.warmup_steps, cfg.schedule, cfg.final_lr_ratio))
            task.before_update(model, step)
            frames += int(batch.lengths.sum())  # host tensors: no device synchronisation
            padded += batch.feats.shape[0] * batch.feats.shape[1]
            names, terms = train_step(net, opt, task.loss, batch.to(device, non_blocking=True), cfg.grad_clip, amp)
            sums = terms if sums is None else sums + terms  # summed on the device, read once per epoch
            nb += 1
            step += 1
        train_s = time.perf_counter() - t0
        val = task.validate(model, run.valid, device)
        row = {"epoch": epoch + 1,
               **{_history_key(k): v / max(nb, 1) for k, v in zip(names, sums.tolist() if nb else [])},
               **{k: v for k, v in val.items() if not k.startswith("_")},
               "padding_fraction": 1 - frames / max(padded, 1), "lr": opt.param_groups[0]["lr"], "updates": step}
        timing.append({"epoch": epoch + 1, "train_s": train_s, "frames_per_s": frames * world / train_s})
        improved = st.best is None or _better(row[task.score], st.best[task.score], task.maximize, cfg.min_delta)
        if improved:
            st.best, st.bad_epochs = dict(row), 0
            if rank == 0:
                task.save_best(model, out_dir)
        else:
            st.bad_epochs += 1
            if cfg.lr_plateau_patience and st.bad_epochs % cfg.lr_plateau_patience == 0:
                scale *= cfg.lr_decay
        row["lr_next"] = cfg.lr * scale
        st.history.append(row)
        st.epoch = epoch + 1
        if rank == 0:
            log(f"{task.describe(row, val, improved)} | {timing[-1]['frames_per_s']:.0f} frames/s")
            checkpoint.save(ckpt_path, run.fingerprint, model, opt, st)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
    return {"selected": st.best, "start": st.start, "history": st.history, "timing": timing,
            "epochs_run": len(st.history),
            "stopped_by": "patience" if st.bad_epochs >= cfg.patience else "max_epochs", "model": model, **run.report}


@contextmanager
def ddp_session(backend: str = "gloo"):
    """Data-parallel training under torchrun (WORLD_SIZE > 1): the process group for the block, torn down after it,
    also on an error. Yields this process's rank (0 in a single process, which needs no group)."""
    started = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    if started:
        dist.init_process_group(backend=backend)
    try:
        yield dist.get_rank() if dist.is_initialized() else 0
    finally:
        if started:
            dist.destroy_process_group()


def timed_steps(net: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn: LossFn, batches: Iterable[Batch],
                grad_clip: float = 5.0, amp: bool = False, warmup: int = 2, max_seconds: float | None = None) -> dict:
    """Real input frames per second of `train_step` over `batches` (already on their device); the first `warmup`
    steps are not timed; stops after max_seconds of timed steps."""
    device = next(net.parameters()).device
    frames = padded = steps = 0
    t0 = time.perf_counter()
    for i, b in enumerate(batches):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0, frames, padded, steps = time.perf_counter(), 0, 0, 0
        train_step(net, opt, loss_fn, b, grad_clip, amp)
        frames += int(b.lengths.sum())
        padded += b.feats.shape[0] * b.feats.shape[1]
        steps += i >= warmup
        if max_seconds and i >= warmup and time.perf_counter() - t0 > max_seconds:
            break
    if steps == 0:
        raise ValueError(f"need more than {warmup} batches (the first {warmup} warm up)")
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"frames_per_s": frames / dt, "padding_fraction": 1 - frames / max(padded, 1), "steps": steps}
