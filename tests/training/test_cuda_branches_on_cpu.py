"""The CUDA-only branches of the training loop, exercised on the CPU where they can be (issue 35): bf16 autocast
in the update step, the prefetch thread's pinning and the non-blocking copy. What only a GPU can run (page-locked
memory itself, the fused cuDNN encoder against the reversal path, nccl) is in tests/test_gpu.py and
scripts/gpu_check.sh."""

import torch

from sa2sr_core.config.models import EncoderConfig, SA2SRConfig
from sa2sr_core.features.batches import Batch, prefetch
from sa2sr_core.models.sa2sr import SA2SR
from sa2sr_core.config.training import TrainingConfig
from sa2sr_core.training.loop import Setup, fit, train_step
from sa2sr_core.training.pretrain import sa2sr_loss


def _batch(seed: int = 0, n: int = 4, frames: int = 60) -> Batch:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([frames - 7 * i for i in range(n)])
    feats = torch.randn(n, frames, 40, generator=g) * (torch.arange(frames)[None, :, None] < lengths[:, None, None])
    tokens = torch.randint(1, 29, (n, 6), generator=g)
    return Batch([f"u{i}" for i in range(n)], feats, lengths, tokens, torch.full((n,), 6), torch.arange(n) % 3,
                 torch.zeros(n, 3), torch.zeros(n, 0))


def _model(seed: int = 0) -> SA2SR:
    torch.manual_seed(seed)
    return SA2SR(SA2SRConfig(encoder=EncoderConfig(hidden=16, layers=2, specaug_p=0.0), summarizer_hidden=8))


def test_the_bf16_autocast_step_trains_and_stays_near_fp32():
    """train_step with amp (the CUDA loop's `amp: true`) under CPU autocast, on a convolutional model: the same
    first loss within bf16's precision, finite updates, and it learns. (The BiLSTM cannot be tried so here: oneDNN
    has no bf16 LSTM primitive on a CPU without AVX-512 BF16, "could not create a primitive descriptor", which is
    why the loop autocasts on CUDA only; the next test holds that.)"""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 40, 30, generator=g), torch.randn(16, 3, generator=g)
    b = Batch([f"u{i}" for i in range(16)], x, torch.full((16,), 30), torch.zeros(16, 1, dtype=torch.long),
              torch.ones(16, dtype=torch.long), torch.zeros(16, dtype=torch.long), y, torch.zeros(16, 0))

    def loss_fn(net, batch):
        loss = torch.nn.functional.mse_loss(net(batch.feats).float(), batch.avd)
        return loss, {"mse": loss}

    losses = {}
    for amp in (False, True):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv1d(40, 32, 5), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool1d(1),
                                  torch.nn.Flatten(), torch.nn.Linear(32, 3))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        losses[amp] = [float(train_step(net, opt, loss_fn, b, 5.0, amp=amp)[1][0]) for _ in range(30)]
        assert all(torch.isfinite(p).all() for p in net.parameters())
        assert losses[amp][-1] < 0.5 * losses[amp][0]  # it learns
    assert abs(losses[True][0] - losses[False][0]) / losses[False][0] < 0.02


def test_amp_in_the_config_trains_the_bilstm_in_fp32_on_a_cpu(tmp_path):
    """`pretrain.amp: true` on a machine without a GPU: the loop leaves autocast off (bf16 is CUDA's here), so the
    run is the fp32 run, bit for bit, instead of a oneDNN error."""
    from tests.training.test_loop import ToyTask  # a scripted validation; any task's step goes through train_step

    runs = {}
    for amp in (False, True):
        cfg = TrainingConfig(lr=1e-2, max_epochs=2, amp=amp, device="cpu")
        task = ToyTask(cfg, [0.1, 0.2], True)
        model = _model()
        task.setup = lambda device, world, log, m=model: Setup(m, torch.optim.Adam(m.parameters(), lr=1e-2),
                                                               _Batches(), _Batches(), "bilstm")
        task.loss, task.usable = sa2sr_loss(1.0), lambda batch: True
        runs[amp] = fit(task, tmp_path / str(amp), log=lambda *_: None)
    assert runs[True]["history"] == runs[False]["history"]
    assert all(torch.equal(a, b) for a, b in zip(runs[True]["model"].state_dict().values(),
                                                  runs[False]["model"].state_dict().values()))


class _Batches:
    def epoch(self, epoch, seed, shuffle=True, rank=0, world=1, short_first=False):
        yield from (_batch(seed=10 * epoch + i) for i in range(3))


def test_prefetch_pins_each_batch_in_its_thread_and_the_copy_gives_the_same_batch(monkeypatch):
    """The CUDA loader path (prefetch with pin=True, then .to(device, non_blocking=True)) yields the same batches in
    the same order as the plain loop; pinning itself needs CUDA, so here it is recorded, not performed."""
    pinned = []

    def pin(self):
        pinned.append(self.utt_ids[0])
        return self

    monkeypatch.setattr(Batch, "pin_memory", pin)
    batches = [_batch(seed=s) for s in range(5)]
    out = [b.to("cpu", non_blocking=True) for b in prefetch(iter(batches), depth=2, pin=True)]
    assert len(pinned) == 5 and len(out) == 5
    assert all(torch.equal(a.feats, b.feats) and torch.equal(a.tokens, b.tokens) for a, b in zip(out, batches))
