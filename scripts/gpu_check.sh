#!/usr/bin/env bash
# Every CUDA path once, on a lent GPU machine (about 5 minutes): the encoder's fused cuDNN path against the CPU
# path (outputs and gradients), pre-training fp32 and bf16, fine-tuning and evaluation, `sa2sr predict` on CUDA
# against the CPU, ONNX export of a CUDA-trained model, torchrun with nccl on one GPU (tests/test_gpu.py,
# tests/models/test_bilstm.py), then the pre-training throughput benchmark (loop vs step only, fp32 and bf16) and
# the SSL encoder against the BiLSTM (bf16, the ssl profile's batch).
#
# The GPU machine has PyTorch and cuDNN but not this project's other wheels. Prepare them here once:
#   .venv/bin/python -m pip download -d .wheels --only-binary=:all: --python-version 3.11 --no-deps \
#       soundfile soxr espeakng-loader safetensors typer tqdm onnx onnxruntime vaderSentiment \
#       transformers tokenizers huggingface_hub hf-xet regex filelock fsspec packaging pyyaml
#   echo /.wheels/ >> .git/info/exclude
# and run this with `.wheels` carried. Results go to $OUT (or ./gpu_check_out).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python}
if [ -d .wheels ]; then "$PY" -m pip install -q --no-index --no-deps .wheels/*.whl; fi
export PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$PY" -c "import torch; print('torch', torch.__version__, 'cudnn', torch.backends.cudnn.version())" | tee -a "$OUT/gpu.txt"
SA2SR_TEST_DEVICE=cuda timeout 240 "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py \
  tests/models/test_bilstm.py 2>&1 | tee "$OUT/tests.txt"
for amp in "" "--amp"; do
  timeout 150 "$PY" benchmarks/pretrain_loop.py --device cuda --synthetic-hours 2 --max-frames 400000 \
    --max-batch 512 --steps 30 $amp | tee "$OUT/pretrain_loop${amp:+_bf16}.json"
done
# the self-supervised encoder (docs/ssl.md): base size (random weights) against the BiLSTM, the ssl profile's batch
timeout 200 "$PY" benchmarks/ssl_encoder.py --device cuda --amp --frames 20000 --seconds 30 --files 40 \
  | tee "$OUT/ssl_encoder_bf16.json"
