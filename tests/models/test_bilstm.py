import pytest
import torch

from sa2sr_core.config.models import EncoderConfig
from sa2sr_core.models.bilstm import AcousticEncoder, BiLSTM, reverse_padded, stack_frames


@pytest.mark.parametrize("T,expected", [(2, 0), (3, 1), (4, 1), (5, 2), (98, 48), (99, 49)])
def test_stack3_skip2_frame_arithmetic(T, expected):
    cfg = EncoderConfig()
    assert cfg.output_length(T) == expected
    x = torch.arange(T * 40, dtype=torch.float32).reshape(1, T, 40)
    y = stack_frames(x, 3, 2)
    assert y.shape == (1, expected, 120)
    if expected:
        # step 1 stacks input frames 2, 3, 4 in order
        if expected > 1:
            assert torch.equal(y[0, 1], torch.cat([x[0, 2], x[0, 3], x[0, 4]]))


def test_reverse_padded_is_an_involution_and_keeps_padding():
    x = torch.arange(2 * 5, dtype=torch.float32).reshape(2, 5, 1)
    L = torch.tensor([5, 3])
    r = reverse_padded(x, L)
    assert r[1, :, 0].tolist() == [7.0, 6.0, 5.0, 8.0, 9.0]
    assert torch.equal(reverse_padded(r, L), x)


def test_bilstm_matches_packed_bidirectional_lstm():
    torch.manual_seed(0)
    ours = BiLSTM(7, 5, layers=2)
    ref = torch.nn.LSTM(7, 5, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():  # copy weights: layer l forward/backward
        for l in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ours.fwd[l], f"{name}_l0").copy_(getattr(ref, f"{name}_l{l}"))
                getattr(ours.bwd[l], f"{name}_l0").copy_(getattr(ref, f"{name}_l{l}_reverse"))
    x, L = torch.randn(3, 9, 7), torch.tensor([9, 6, 2])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, L, batch_first=True, enforce_sorted=False)
    want, _ = torch.nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=9)
    got = ours(x, L)
    for b, n in enumerate(L.tolist()):
        torch.testing.assert_close(got[b, :n], want[b, :n], atol=1e-5, rtol=1e-5)


def test_specaugment_only_in_training_and_padding_does_not_leak():
    torch.manual_seed(0)
    enc = AcousticEncoder(EncoderConfig(hidden=16, layers=2))
    x, L = torch.randn(2, 50, 40), torch.tensor([50, 30])
    enc.eval()
    a, la = enc(x, L)
    alone, _ = enc(x[1:, :30], L[1:])
    torch.testing.assert_close(a[1, : la[1]], alone[0], atol=1e-5, rtol=1e-5)
    enc.train()
    enc.cfg.specaug_p = 1.0
    b, _ = enc(x, L)
    assert not torch.allclose(a[0], b[0])  # training applies masks
    enc.cfg.specaug_p = 0.0
    c, _ = enc(x, L)
    torch.testing.assert_close(a, c)  # p = 0: no masking
    with pytest.raises(ValueError, match="shorter than 3 frames"):
        enc(torch.randn(1, 2, 40), torch.tensor([2]))


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
def test_fused_packed_path_equals_the_reversal_path_outputs_and_gradients(device):
    """One set of parameters, two computations: the fused (cuDNN on CUDA) bidirectional stack over packed
    sequences and the per-direction reversal give the same outputs and gradients on a padded batch."""
    torch.manual_seed(0)
    enc = AcousticEncoder(EncoderConfig(hidden=24, layers=3, specaug_p=0.0)).to(device).eval()
    x = torch.randn(4, 83, 40, device=device)
    L = torch.tensor([83, 40, 61, 7], device=device)
    results = {}
    for mode in ("never", "always"):
        enc.lstm.fused = mode
        enc.zero_grad()
        h, n = enc(x, L)
        mask = (torch.arange(h.shape[1], device=device)[None] < n[:, None]).unsqueeze(-1)
        (h * mask * torch.linspace(-1, 1, h.shape[-1], device=device)).sum().backward()
        results[mode] = (h * mask, {k: p.grad.clone() for k, p in enc.named_parameters()})
    torch.testing.assert_close(results["always"][0], results["never"][0], atol=1e-5, rtol=1e-4)
    for k, g in results["never"][1].items():
        torch.testing.assert_close(results["always"][1][k], g, atol=1e-4, rtol=1e-3)
    enc.lstm.fused = "auto"
    assert enc.lstm.use_fused(x) == (device == "cuda")


def _loop_spec_augment(x, lengths, cfg):
    """The earlier per-utterance implementation: the reference distribution."""
    B, T, F = x.shape
    x = x.clone()
    apply = torch.rand(B) < cfg.specaug_p
    for b in torch.nonzero(apply).flatten().tolist():
        for _ in range(cfg.freq_masks):
            w = int(torch.randint(0, cfg.freq_width + 1, ()))
            f0 = int(torch.randint(0, max(1, F - w), ()))
            x[b, :, f0: f0 + w] = 0.0
        n = int(lengths[b])
        for _ in range(cfg.time_masks):
            w = int(torch.randint(0, min(cfg.time_width, max(1, n // 5)) + 1, ()))
            t0 = int(torch.randint(0, max(1, n - w), ()))
            x[b, t0: t0 + w, :] = 0.0
    return x


def test_vectorised_specaugment_has_the_loop_version_distribution():
    from sa2sr_core.models.bilstm import spec_augment

    cfg = EncoderConfig()
    torch.manual_seed(0)
    B, T = 3000, 120
    lengths = torch.randint(30, T + 1, (B,))
    x = torch.ones(B, T, 40)
    stats = {}
    for name, fn in (("loop", _loop_spec_augment), ("vectorised", spec_augment)):
        m = fn(x, lengths, cfg) == 0  # (B, T, F) masked cells
        bins = m.all(1).float().sum(1)  # masked mel bins per utterance
        frames = m.all(2).float().sum(1)  # masked frames per utterance
        stats[name] = (m.any(2).any(1).float().mean(), bins.mean(), bins.std(), frames.mean(), frames.std(),
                       m.all(1).float().mean(0))  # P(masked), bins, frames, per-bin mask rate
    a, b = stats["loop"], stats["vectorised"]
    assert abs(a[0] - b[0]) < 0.04  # P(utterance masked) ~ 0.5
    for i in (1, 2, 3, 4):
        assert abs(a[i] - b[i]) < 0.08 * a[i] + 0.1, (i, a[i], b[i])
    assert (a[5] - b[5]).abs().max() < 0.05  # where in the spectrum the bands fall
    y = spec_augment(torch.randn(4, 50, 40), torch.tensor([50, 40, 12, 3]), cfg)
    assert y.shape == (4, 50, 40)
