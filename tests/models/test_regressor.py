import numpy as np
import pytest
import torch

from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig
from sa2sr_core.metrics import ccc
from sa2sr_core.models.regressor import EmotionModel, EmotionRegressor, MaskedConv1d, ccc_loss
from tests.helpers import standardise_stats


def test_masked_conv_lengths_and_receptive_field():
    conv = MaskedConv1d(4, 2, 6, 3)
    y, L = conv(torch.randn(2, 20, 4), torch.tensor([20, 8]))
    assert y.shape == (2, 5, 2) and L.tolist() == [5, 1]
    cfg = RegressorConfig()
    assert cfg.min_steps() == 12 and cfg.output_length(12) == 1 and cfg.output_length(11) == 0
    m = EmotionModel(EmotionModelConfig(EncoderConfig(hidden=8, layers=1), RegressorConfig(input_dim=16)))
    assert m.min_frames() == 25  # 12 encoder steps need 3 + 2 * 11 input frames


def test_padding_never_leaks_into_the_output():
    torch.manual_seed(0)
    reg = EmotionRegressor(RegressorConfig(input_dim=10, dropout=0.0)).eval()
    h = torch.randn(3, 60, 10)
    L = torch.tensor([60, 33, 14])
    batch = reg(h, L)
    h2 = h.clone()
    h2[1, 33:] = 1e3  # garbage in the padding
    h2[2, 14:] = -1e3
    torch.testing.assert_close(reg(h2, L), batch)
    for i in range(3):
        alone = reg(h[i: i + 1, : L[i]], L[i: i + 1])
        torch.testing.assert_close(alone[0], batch[i], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="receptive field"):
        reg(torch.randn(1, 11, 10), torch.tensor([11]))


def test_ccc_loss_matches_numpy_formula():
    rng = np.random.default_rng(0)
    t = rng.normal(4, 1, (50, 3))
    p = t * 0.5 + rng.normal(0.3, 0.5, (50, 3))
    loss, c = ccc_loss(torch.tensor(p), torch.tensor(t))
    want = [ccc(t[:, i], p[:, i]) for i in range(3)]
    np.testing.assert_allclose(c.numpy(), want, atol=1e-6)
    assert float(loss) == pytest.approx(-np.mean(want), abs=1e-6)
    _, perfect = ccc_loss(torch.tensor(t), torch.tensor(t))
    np.testing.assert_allclose(perfect.numpy(), 1.0, atol=1e-6)


def test_regressor_learns_a_tiny_set():
    torch.manual_seed(0)
    model = EmotionModel(EmotionModelConfig(EncoderConfig(hidden=16, layers=1, specaug_p=0.0),
                                            RegressorConfig(input_dim=32, dropout=0.0)))
    x = torch.randn(8, 80, 40)
    L = torch.tensor([80, 75, 70, 66, 60, 55, 50, 45])
    y = torch.rand(8, 3) * 6 + 1
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        loss, c = ccc_loss(model(x, L), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (c > 0.95).all()


def test_self_attention_equals_torch_multihead_attention():
    from sa2sr_core.models.regressor import SelfAttention

    torch.manual_seed(0)
    ours, ref = SelfAttention(64, 4).eval(), torch.nn.MultiheadAttention(64, 4, batch_first=True).eval()
    ref.load_state_dict(ours.state_dict())  # same parameter names and shapes
    x = torch.randn(3, 17, 64)
    mask = torch.arange(17)[None] < torch.tensor([17, 9, 5])[:, None]
    with torch.no_grad():
        want, _ = ref(x, x, x, key_padding_mask=~mask, need_weights=False)
        torch.testing.assert_close(ours(x, mask), want, atol=1e-6, rtol=1e-5)


def test_utterance_stats_path_learns_what_the_sequence_lacks():
    """Targets that depend only on the utterance functionals (the sequence is noise): the stats path fits
    them, the paper's regressor cannot."""
    torch.manual_seed(0)
    B, K = 24, 84
    stats = 10 + 3 * torch.randn(B, K)
    y = torch.stack([stats[:, 0], stats[:, 5] - stats[:, 7], stats[:, 40]], 1) / 3 + 4  # (B, 3)
    h, L = torch.randn(B, 40, 16), torch.full((B,), 40)
    fits = {}
    for k in (0, K):
        reg = EmotionRegressor(RegressorConfig(input_dim=16, stats_dim=k, dropout=0.0))
        if k:
            standardise_stats(reg, stats)
            assert torch.allclose(reg.stats_mean, stats.mean(0))
        with torch.no_grad():
            reg.out.bias.copy_(y.mean(0))
        opt = torch.optim.Adam(reg.parameters(), 1e-2)
        for _ in range(300):
            loss, c = ccc_loss(reg(h, L, stats if k else None), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        fits[k] = c.detach()
    assert (fits[K] > 0.95).all()
    with pytest.raises(ValueError, match="utterance stats"):
        EmotionRegressor(RegressorConfig(input_dim=16, stats_dim=K))(h, L)


def test_start_from_linear_computes_exactly_that_linear_model():
    torch.manual_seed(1)
    reg = EmotionRegressor(RegressorConfig(input_dim=16, stats_dim=6)).eval()
    mean, std = torch.randn(6), torch.rand(6) + 0.5
    w, b = torch.randn(3, 6), torch.tensor([4.0, 3.0, 5.0])
    reg.start_from_linear(mean, std, w, b)
    stats = torch.randn(5, 6)
    h, L = torch.randn(5, 30, 16), torch.full((5,), 30)
    torch.testing.assert_close(reg(h, L, stats), ((stats - mean) / std) @ w.T + b)
