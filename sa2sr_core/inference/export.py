"""`sa2sr export`: the Predictor as a TorchScript or ONNX graph, checked against PyTorch before it is kept.

Graph inputs: feats (B, T, F) float32 — what config.json's `features` say (sa2sr_core.features.fbank.
extract_features_and_stats): for the BiLSTM normalised LFBE, F = 40; for an SSL encoder (features kind "waveform") the
16 kHz waveform on the 16-bit grid cut into 10 ms frames, F = 160 (the model normalises it itself) — and lengths (B,)
int64 in frames, T >= the model's minimum; for a
model whose regressor reads utterance functionals (config `regressor.stats_dim` K > 0) also stats (B, K) float32,
sa2sr_core.features.functionals.utterance_functionals of the *unnormalised* LFBE; for a model with the text route
(config `regressor.text_dim` E > 0) also text (B, E) float32, the text features of each utterance's transcript
(sa2sr_core.features.text: the text model named in `regressor.text`, run outside the graph; docs/text.md says how
the two parts run together).
Outputs: avd (B, 3), sentiment_probs (B, 3), ctc_log_probs (B, T', 29), out_lengths (B,), and for a model with a
categorical head class_probs (B, C) in the order of config.json's `regressor.classes`; with
T' = (T - 3) // 2 + 1 (BiLSTM) or the backbone's CNN arithmetic on 160 T samples (SSL: 49 steps per second).
Batch and time axes are dynamic.

ONNX goes through the TorchScript-based exporter: the torch.export-based one unrolls the LSTMs over the
example's time axis (measured: it specialises T), which would fix the graph to one input length.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from sa2sr_core.io import atomic_path
from sa2sr_core.models.predictor import Predictor

FORMATS = ("onnx", "torchscript")


def input_names(model: Predictor) -> list[str]:
    return ["feats", "lengths"] + (["stats"] if model.stats_dim > 0 else []) + (["text"] if model.text_dim > 0 else [])


def example_inputs(model: Predictor, lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    T = max(lengths)
    feats = torch.randn(len(lengths), T, model.cfg.sa2sr.encoder.input_dim, generator=g)
    for b, n in enumerate(lengths):
        feats[b, n:] = 0.0
    out = (feats, torch.tensor(lengths, dtype=torch.long))
    if model.stats_dim > 0:  # around the training statistics the regressor standardises with
        r = model.regressor
        out += (r.stats_mean + r.stats_std * torch.randn(len(lengths), model.stats_dim, generator=g),)
    if model.text_dim > 0:  # the text route's features, around their training statistics
        r = model.regressor
        out += (r.text_mean + r.text_std * torch.randn(len(lengths), model.text_dim, generator=g),)
    return out


def run_exported(path: Path, fmt: str, *inputs: torch.Tensor) -> list[np.ndarray]:
    if fmt == "torchscript":
        m = torch.jit.load(str(path), map_location="cpu")
        with torch.inference_mode():
            return [t.numpy() for t in m(*inputs)]
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, {n: t.numpy() for n, t in zip(names, inputs)})


def export_model(model: Predictor, fmt: str, out: str | Path, atol: float = 1e-4) -> dict:
    """Write `model` as `fmt` to `out` (atomically) after checking it against PyTorch on inputs of another batch
    size and other lengths than the tracing example. Returns {output: max abs difference}."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {FORMATS}")
    model = model.cpu().eval()
    n = model.min_frames()
    example = example_inputs(model, [n + 275, n + 120])
    check = example_inputs(model, [n + 410, n, n + 333], seed=1)  # other B, T and lengths
    out = Path(out)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer / legacy-exporter deprecation chatter
        if fmt == "torchscript":
            with torch.no_grad():
                traced = torch.jit.trace(model, example, check_trace=False)
            traced.save(str(tmp))
        else:
            dyn = {"feats": {0: "batch", 1: "frames"}, "lengths": {0: "batch"}, "stats": {0: "batch"}, "text": {0: "batch"},
                   "avd": {0: "batch"}, "sentiment_probs": {0: "batch"}, "ctc_log_probs": {0: "batch", 1: "steps"},
                   "out_lengths": {0: "batch"}, "class_probs": {0: "batch"}}
            names = input_names(model)
            torch.onnx.export(model, example, str(tmp), dynamo=False, opset_version=17, input_names=names,
                              output_names=list(model.output_names),
                              dynamic_axes={k: v for k, v in dyn.items() if k in names or k in model.output_names})
        got = run_exported(tmp, fmt, *check)
        with torch.inference_mode():
            ref = [t.numpy() for t in model(*check)]
        diff = {name: float(np.abs(g.astype(np.float64) - r).max()) for name, g, r in zip(model.output_names, got, ref)}
        if any(d > atol for d in diff.values()):
            raise RuntimeError(f"exported {fmt} graph differs from PyTorch by more than {atol}: {diff}")
    return diff
