import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sa2sr_core.cli import app
from sa2sr_core.inference.export import example_inputs, export_model, run_exported
from sa2sr_core.models.packaged import load_model
from tests.model_dirs import packaged


@pytest.mark.parametrize("fmt,suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
@pytest.mark.parametrize("frozen,stats", [(False, False), (True, False), (False, True)])
def test_exported_graph_matches_pytorch_on_new_shapes(tmp_path, fmt, suffix, frozen, stats):
    d, _, _ = packaged(tmp_path, frozen, stats)
    model, _ = load_model(d)
    out = tmp_path / f"m{suffix}"
    diff = export_model(model, fmt, out)
    assert out.is_file() and max(diff.values()) < 1e-4
    # independent check here: batch sizes and lengths unlike the export's own examples
    for lengths in ([model.min_frames()], [700, 64, 300, 512, 90]):
        inputs = example_inputs(model, lengths, seed=7)
        assert len(inputs) == (3 if stats else 2)
        got = run_exported(out, fmt, *inputs)
        with torch.no_grad():
            ref = model(*inputs)
        for g, r in zip(got, ref):
            assert g.shape == tuple(r.shape)
            np.testing.assert_allclose(g, r.numpy(), atol=1e-4, rtol=1e-4)


def test_export_cli(tmp_path):
    d, _, _ = packaged(tmp_path)
    r = CliRunner().invoke(app, ["export", "--model", str(d), "--format", "onnx", "--out", str(tmp_path / "x.onnx")])
    assert r.exit_code == 0, r.output
    assert "max |exported - PyTorch|" in r.output and (tmp_path / "x.onnx").stat().st_size > 10000
    bad = CliRunner().invoke(app, ["export", "--model", str(d), "--format", "tflite", "--out", str(tmp_path / "y")])
    assert bad.exit_code == 2 and not (tmp_path / "y").exists()
