"""The one training loop on a toy task: selection with min_delta in either direction, patience, plateau decay,
skipped batches, and resume equal to an uninterrupted run."""

import pytest
import torch

from sa2sr_core.config.training import TrainingConfig
from sa2sr_core.features.batches import Batch
from sa2sr_core.training.loop import Setup, Task, fit, train_step


def _batch(n: int, seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 4, generator=g)
    z = torch.zeros(n, dtype=torch.long)
    return Batch([f"u{i}" for i in range(n)], x, torch.ones(n, dtype=torch.long), z[:, None], z, z,
                 x[:, 0, :3].sum(1, keepdim=True).repeat(1, 3), torch.zeros(n, 0))


class Toy:
    def epoch(self, epoch, seed, shuffle=True, rank=0, world=1, short_first=False):
        yield from (_batch(1 if i == 0 else 8, 100 * epoch + i) for i in range(4))  # the first: 1 utterance


class ToyTask(Task):
    """Linear regression; the validation score follows a script, so selection can be checked exactly."""

    def __init__(self, cfg, scores, maximize):
        self.cfg, self.scores, self.maximize, self.score = cfg, scores, maximize, "val_score"
        self.saved, self.seen = [], 0

    def setup(self, device, world, log):
        model = torch.nn.Linear(4, 3)
        return Setup(model, torch.optim.Adam(model.parameters(), lr=self.cfg.lr), Toy(), Toy(), "toy")

    def loss(self, net, batch):
        loss = torch.nn.functional.mse_loss(net(batch.feats[:, 0]), batch.avd)
        return loss, {"mse": loss}

    def usable(self, batch):
        return len(batch.utt_ids) >= 2

    def validate(self, model, valid, device):
        s = self.scores[self.seen]
        self.seen += 1
        return {"val_score": s}

    def save_best(self, model, out_dir):
        self.saved.append(self.seen)


@pytest.mark.parametrize("maximize", [True, False])
def test_selection_patience_plateau_and_min_delta(tmp_path, maximize):
    sign = 1 if maximize else -1
    # epoch 2 gains only min_delta (not an improvement), epoch 3 a real gain, then three bad epochs
    scores = [sign * s for s in (0.50, 0.51, 0.60, 0.55, 0.59, 0.58, 0.9)]
    cfg = TrainingConfig(lr=1e-2, max_epochs=10, patience=3, min_delta=0.01, lr_plateau_patience=1, lr_decay=0.5)
    task = ToyTask(cfg, scores, maximize)
    res = fit(task, tmp_path, log=lambda *_: None)
    h = res["history"]
    assert res["stopped_by"] == "patience" and len(h) == 6 and res["selected"]["epoch"] == 3
    assert task.saved == [1, 3]  # the model directory holds the best epoch
    assert [r["lr_next"] for r in h] == pytest.approx([1e-2, 5e-3, 5e-3, 2.5e-3, 1.25e-3, 6.25e-4])
    assert all(r["updates"] == 3 * r["epoch"] for r in h)  # the one-utterance batch never trained
    assert all(r["train_loss_mse"] > 0 for r in h)


def test_resume_continues_the_same_run(tmp_path):
    scores = [0.1, 0.2, 0.3, 0.25, 0.35]
    cfg = TrainingConfig(lr=1e-2, max_epochs=5, patience=5, lr_plateau_patience=1)
    full = fit(ToyTask(cfg, scores, True), tmp_path / "a", log=lambda *_: None)

    def stop(epoch, row):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(ToyTask(cfg, scores, True), tmp_path / "b", on_epoch_end=stop, log=lambda *_: None)
    task = ToyTask(cfg, scores, True)
    task.seen = 2  # the scripted validation continues where the killed run stopped
    res = fit(task, tmp_path / "b", log=lambda *_: None)
    assert res["history"] == full["history"]
    assert all(torch.equal(a, b) for a, b in zip(res["model"].state_dict().values(),
                                                  full["model"].state_dict().values()))
    # the checkpoint holds no time, so the two runs' are the same bytes (and so is a DVC lock over them)
    assert (tmp_path / "a" / "checkpoint.pt").read_bytes() == (tmp_path / "b" / "checkpoint.pt").read_bytes()
    # the times are reported beside the history: this process's epochs only
    assert [t["epoch"] for t in full["timing"]] == [1, 2, 3, 4, 5] and [t["epoch"] for t in res["timing"]] == [3, 4, 5]
    assert all(t["train_s"] > 0 and t["frames_per_s"] > 0 for t in full["timing"])
    assert not any("per_s" in k or k.endswith("_s") for r in full["history"] for k in r)


def test_train_step_clips_and_returns_the_logged_terms():
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    b = _batch(8, 0)
    b.avd.mul_(1e6)  # a huge loss: the update's size is set by the clip
    names, terms = train_step(model, opt, lambda net, bt: (lambda l: (l, {"a": l, "b": 2 * l}))(
        torch.nn.functional.mse_loss(net(bt.feats[:, 0]), bt.avd)), b, grad_clip=1.0)
    step = torch.sqrt(sum(((p.detach() - q) ** 2).sum() for p, q in zip(model.parameters(), before)))
    assert names == ["a", "b"] and terms.shape == (2,) and float(terms[1]) == pytest.approx(2 * float(terms[0]))
    assert float(step) == pytest.approx(1.0, rel=1e-4)
