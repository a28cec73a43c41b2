import copy
import threading

import torch

from sa2sr_core.config.models import EncoderConfig, SSLConfig
from sa2sr_core.models.backbones import resolve_encoder
from sa2sr_core.models.ssl import SSLEncoder


def _encoder(**ssl) -> SSLEncoder:
    torch.manual_seed(0)
    return SSLEncoder(resolve_encoder(EncoderConfig(kind="ssl", input_dim=160, ssl=SSLConfig(**ssl))))


def _wave(B: int, T: int, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(B, T, 160, generator=torch.Generator().manual_seed(seed))


def test_output_lengths_follow_the_cnn_and_padding_changes_nothing():
    enc = _encoder().eval()
    x, lengths = _wave(3, 150), torch.tensor([150, 97, 40])
    with torch.no_grad():
        h, n = enc(x, lengths)
        assert h.shape == (3, 74, 64) and n.tolist() == [74, 48, 19]  # 49 steps per second
        for b in range(3):  # each utterance alone, unpadded
            alone, _ = enc(x[b: b + 1, : lengths[b]], lengths[b: b + 1])
            torch.testing.assert_close(h[b, : n[b]], alone[0], atol=2e-5, rtol=1e-4)


def test_layer_sum_has_every_layer_even_when_layerdrop_skips_some():
    """With layerdrop skipping most layers, every layer's weight still gets a gradient (each layer's output is in
    the weighted sum, a skipped layer's being the one below it), and the output is exactly that sum."""
    enc = _encoder(layerdrop=0.9, mask_time_prob=0.0).train()
    for step in range(5):
        torch.manual_seed(step)
        h, _ = enc(_wave(2, 80), torch.tensor([80, 60]))
        h.sum().backward()
        g = enc.layer_weights.grad
        assert g.shape == (3,) and torch.isfinite(g).all() and (g != 0).all(), (step, g)
        enc.zero_grad()
    with torch.no_grad():  # the output is the softmax-weighted sum: a weight's change moves it
        h0, _ = enc.eval()(_wave(1, 80), torch.tensor([80]))
        enc.layer_weights.add_(torch.tensor([5.0, 0.0, 0.0]))
        h1, _ = enc(_wave(1, 80), torch.tensor([80]))
        assert not torch.allclose(h0, h1)


def test_frozen_backbone_gets_no_gradient_but_the_layer_weights_do():
    enc = _encoder(mask_time_prob=0.0).train()
    enc.backbone_frozen = True
    h, _ = enc(_wave(2, 80), torch.tensor([80, 60]))
    h.pow(2).sum().backward()
    assert enc.layer_weights.grad is not None and enc.layer_weights.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.backbone.parameters())


def test_the_cnn_stays_fixed_when_frozen():
    enc = _encoder(freeze_feature_encoder=True, mask_time_prob=0.0).train()
    h, _ = enc(_wave(1, 60), torch.tensor([60]))
    h.sum().backward()
    assert all(p.grad is None for p in enc.backbone.feature_extractor.parameters())
    assert any(p.grad is not None for p in enc.backbone.encoder.parameters())


def test_threads_share_one_model_safely_and_copies_work():
    """`sa2sr predict` runs batches of different shapes on one model from several threads at once."""
    enc = _encoder().eval()
    inputs = [(_wave(2, 120 + 37 * i, seed=i), torch.tensor([120 + 37 * i, 90])) for i in range(6)]
    with torch.no_grad():
        ref = [enc(x, n)[0] for x, n in inputs]
    got = [None] * len(inputs)

    def run(i):
        with torch.no_grad():
            for _ in range(3):
                got[i] = enc(*inputs[i])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r)
    twin = copy.deepcopy(enc)
    with torch.no_grad():
        torch.testing.assert_close(twin(*inputs[0])[0], ref[0])
