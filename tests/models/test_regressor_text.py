"""The text route in the regressor (docs/text.md): text features beside the sequence and the functionals."""

import pytest
import torch

from sa2sr_core.config.models import RegressorConfig
from sa2sr_core.models.regressor import EmotionRegressor, ccc_loss


def _text_set(B=30, seed=0):
    """Valence read from the words: [p_neg, p_neu, p_pos, has_text]; a third of the utterances have no text."""
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(3 * torch.randn(B, 3, generator=g), -1)
    has = (torch.arange(B) % 3 != 0).float()
    text = torch.cat([p * has[:, None], has[:, None]], 1)  # no text: all zero
    y = torch.stack([4 + torch.randn(B, generator=g), 4 + 2 * (p[:, 2] - p[:, 0]) * has, 4 + torch.randn(B, generator=g)], 1)
    return text, y


def test_fusion_learns_what_only_the_words_carry():
    """Valence carried by the words alone, activation and dominance noise the model can only memorise from the
    sequence: the fused regressor overfits the tiny set, and unlike the sound-only one (which memorises too) it
    predicts valence on new utterances."""
    torch.manual_seed(0)
    text, y = _text_set()
    B = len(y)
    h, L = torch.randn(B, 40, 16), torch.full((B,), 40)
    fits = {}
    for e in (0, 4):
        reg = EmotionRegressor(RegressorConfig(input_dim=16, text_dim=e, dropout=0.0, text={"source": "gold"}))
        with torch.no_grad():
            reg.out.bias.copy_(y.mean(0))
            if e:
                reg.text_mean.copy_(text.mean(0))
                reg.text_std.copy_(text.std(0))
        opt = torch.optim.Adam(reg.parameters(), 1e-2)
        for _ in range(300):
            loss, c = ccc_loss(reg(h[:, :, :], L, text=text if e else None), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        fits[e] = c.detach()
        new_text, new_y = _text_set(seed=1)
        reg.eval()
        with torch.no_grad():
            _, held_out = ccc_loss(reg(torch.randn(B, 40, 16), L, text=new_text if e else None), new_y)
        fits[e] = (fits[e], held_out)
    assert (fits[4][0] > 0.95).all()
    assert fits[4][1][1] > 0.8 and abs(float(fits[0][1][1])) < 0.5
    with pytest.raises(ValueError, match="text features.*'gold'"):
        EmotionRegressor(RegressorConfig(input_dim=16, text_dim=4, text={"source": "gold"}))(h, L)


def test_start_from_linear_splits_one_ridge_over_functionals_and_text():
    torch.manual_seed(1)
    reg = EmotionRegressor(RegressorConfig(input_dim=16, stats_dim=6, text_dim=4)).eval()
    mean, std = torch.randn(10), torch.rand(10) + 0.5
    w, b = torch.randn(3, 10), torch.tensor([4.0, 3.0, 5.0])
    reg.start_from_linear(mean, std, w, b)
    stats, text = torch.randn(5, 6), torch.randn(5, 4)
    h, L = torch.randn(5, 30, 16), torch.full((5,), 30)
    side = torch.cat([stats, text], 1)
    torch.testing.assert_close(reg(h, L, stats, text), ((side - mean) / std) @ w.T + b)
    only_text = EmotionRegressor(RegressorConfig(input_dim=16, text_dim=4)).eval()  # utterance_stats false
    only_text.start_from_linear(mean[6:], std[6:], w[:, 6:], b)
    torch.testing.assert_close(only_text(h, L, text=text), ((text - mean[6:]) / std[6:]) @ w[:, 6:].T + b)


def test_without_text_the_regressor_is_the_one_it_was():
    """text_dim 0 builds the same modules in the same order: the same initial weights for the same seed (every
    committed figure of source none is unchanged)."""
    torch.manual_seed(3)
    a = EmotionRegressor(RegressorConfig(input_dim=16, stats_dim=6))
    names = [n for n, _ in a.named_parameters()]
    assert not any("text" in n for n in names)
    torch.manual_seed(3)
    b = EmotionRegressor(RegressorConfig(input_dim=16, stats_dim=6, text_dim=4))
    sa, sb = a.state_dict(), b.state_dict()
    for k in ("convs.0.conv.weight", "stats_proj.1.weight", "stats_linear.weight"):
        torch.testing.assert_close(sa[k], sb[k])  # modules before the text ones draw the same numbers


def test_late_fusion_mixes_the_speech_only_model_and_the_text_head():
    """fusion late: the acoustic half is the speech-only regressor (same weights and random numbers for the same
    seed, the text never inside it), the text head a linear model of the standardised text, and the outputs
    (1 - w) acoustic + w text per output; the class logits likewise with one weight."""
    classes = ("ang", "hap", "neu", "sad")
    torch.manual_seed(5)
    sound = EmotionRegressor(RegressorConfig(input_dim=16, stats_dim=6, classes=classes, class_linear=True)).eval()
    after_sound = torch.rand(3)
    torch.manual_seed(5)
    late = EmotionRegressor(RegressorConfig(input_dim=16, stats_dim=6, text_dim=4, classes=classes, class_linear=True,
                                            text={"source": "asr", "fusion": "late"})).eval()
    torch.testing.assert_close(torch.rand(3), after_sound)  # the text head drew no random numbers
    assert late.cfg.late_text and late.cfg.joint_text_dim == 0 and not hasattr(late, "text_proj")
    assert late.side_classify.in_features == 6  # the class head's linear path reads the functionals alone
    for k, v in sound.state_dict().items():
        torch.testing.assert_close(late.state_dict()[k], v)
    mean, std, w, b = torch.randn(4), torch.rand(4) + 0.5, torch.randn(3, 4), torch.tensor([4.0, 3.0, 5.0])
    cw, cb = torch.randn(4, 4), torch.randn(4)
    late.start_text_head(mean, std, w, b, cw, cb)
    h, L, stats, text = torch.randn(5, 30, 16), torch.full((5,), 30), torch.randn(5, 6), torch.randn(5, 4)
    z = (text - mean) / std
    y0, words = sound(h, L, stats), torch.cat([z @ w.T + b, z @ cw.T + cb], 1)
    torch.testing.assert_close(late(h, L, stats, text), y0)  # weights 0 while training: the sound alone
    late.set_text_weights(torch.ones(3), 1.0)
    torch.testing.assert_close(late(h, L, stats, text), words)
    late.set_text_weights(torch.tensor([0.0, 0.7, 0.2]), 0.4)
    mix = torch.cat([torch.tensor([0.0, 0.7, 0.2]).expand(5, 3), torch.full((5, 4), 0.4)], 1)
    torch.testing.assert_close(late(h, L, stats, text), (1 - mix) * y0 + mix * words)
    with pytest.raises(ValueError, match="text features.*'asr'"):
        late(h, L, stats)


def test_fusion_is_named_when_wrong_late_by_default_and_concat_where_a_model_directory_predates_it():
    from sa2sr_core.config.text import text_config
    from sa2sr_core.errors import Sa2srError

    with pytest.raises(Sa2srError, match=r"finetune.text.fusion must be one of \('concat', 'late'\), got 'early'"):
        text_config({"finetune": {"text": {"source": "gold", "fusion": "early"}}})
    assert text_config({"finetune": {"text": {"source": "gold"}}}).fusion == "late"  # params without the key
    old = RegressorConfig(input_dim=16, text_dim=4, text={"source": "gold"})  # config.json without the key
    assert not old.late_text and old.joint_text_dim == 4
