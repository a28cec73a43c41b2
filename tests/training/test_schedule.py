import pytest

from sa2sr_core.training.schedule import lr_factor


def test_warmup_then_cosine_to_the_final_ratio():
    f = [lr_factor(s, 100, 10, "cosine", 0.1) for s in range(101)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)  # linear warm-up over 10 updates
    assert f[10] == pytest.approx(1.0) and f[100] == pytest.approx(0.1)
    assert f[55] == pytest.approx(0.55)  # half-way down the cosine
    assert all(a >= b for a, b in zip(f[10:], f[11:]))  # never rises after warm-up
    assert lr_factor(500, 100, 10, "cosine", 0.1) == pytest.approx(0.1)  # past the plan: stays at the floor


def test_constant_and_unknown():
    assert [lr_factor(s, 0, 4) for s in (0, 3, 4, 1000)] == [0.25, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="schedule"):
        lr_factor(0, 10, 0, "step")
