#!/usr/bin/env bash
# Every CUDA path once, on a lent GPU machine (about 5 minutes): the encoder's fused cuDNN path against the CPU
# path (outputs and gradients), pre-training fp32 and bf16, fine-tuning and evaluation, `sa2sr predict` on CUDA
# against the CPU, ONNX export of a CUDA-trained model, torchrun with nccl on one GPU (tests/test_gpu.py,
# tests/models/test_bilstm.py), then the pre-training throughput benchmark (loop vs step only, fp32 and bf16) and
# the SSL encoder against the BiLSTM (bf16, the ssl profile's batch).
#
#   bash scripts/gpu_check.sh          # on the GPU machine
#   bash scripts/gpu_check.sh --cpu    # the small mode: the same steps on the CPU, small sizes (CI runs it:
#                                      # tests/test_gpu_check.py), so this script cannot fall out of step with the code
#
# In the small mode what only CUDA has is skipped and said so in $OUT/skipped.txt: nvidia-smi, cuDNN's version,
# the device-against-CPU comparisons (they compare the CPU with itself), nccl (gloo instead), bf16 autocast and the
# GPU memory figures. Every other line of $OUT comes from the same commands as on the GPU.
#
# The GPU machine has PyTorch and cuDNN but not this project's other wheels. Prepare them here once:
#   .venv/bin/python -m pip download -d .wheels --only-binary=:all: --python-version 3.11 --no-deps \
#       soundfile soxr espeakng-loader safetensors typer tqdm onnx onnxruntime vaderSentiment \
#       transformers tokenizers huggingface_hub hf-xet regex filelock fsspec packaging pyyaml scikit-learn \
#       joblib threadpoolctl
#   echo /.wheels/ >> .git/info/exclude
# and run this with `.wheels` carried. Results go to $OUT (or ./gpu_check_out).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=gpu
if [ "${1:-}" = "--cpu" ]; then MODE=cpu; fi
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python}
if [ -d .wheels ]; then "$PY" -m pip install -q --no-index --no-deps .wheels/*.whl; fi
export PYTHONPATH=$PWD
TESTS="tests/test_gpu.py tests/models/test_bilstm.py"
for f in $TESTS benchmarks/pretrain_loop.py benchmarks/ssl_encoder.py; do
  [ -f "$f" ] || { echo "gpu_check: $f is gone: update scripts/gpu_check.sh" >&2; exit 1; }
done
: > "$OUT/skipped.txt"
if [ "$MODE" = gpu ]; then
  DEV=cuda
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cudnn', torch.backends.cudnn.version())" | tee -a "$OUT/gpu.txt"
  HOURS=2; FRAMES=400000; BATCH=512; STEPS=30; AMPS=("" "--amp")
  SSL=(--frames 20000 --seconds 30 --files 40)
else
  DEV=cpu
  "$PY" -c "import torch; print('torch', torch.__version__, 'cpu only')" | tee "$OUT/gpu.txt"
  echo "nvidia-smi, cuDNN version: no GPU (small mode)" >> "$OUT/skipped.txt"
  echo "bf16 autocast runs of the benchmarks: CUDA only (small mode runs fp32)" >> "$OUT/skipped.txt"
  echo "torchrun with nccl: CUDA only (tests/test_gpu.py runs it with gloo on the CPU)" >> "$OUT/skipped.txt"
  HOURS=0.02; FRAMES=3000; BATCH=64; STEPS=2; AMPS=("")
  SSL=(--smoke)
fi
SA2SR_TEST_DEVICE=$DEV timeout 600 "$PY" -m pytest -q -p no:cacheprovider -rs $TESTS 2>&1 | tee "$OUT/tests.txt"
for amp in "${AMPS[@]}"; do
  timeout 300 "$PY" benchmarks/pretrain_loop.py --device "$DEV" --synthetic-hours "$HOURS" --max-frames "$FRAMES" \
    --max-batch "$BATCH" --steps "$STEPS" $amp | tee "$OUT/pretrain_loop${amp:+_bf16}.json"
done
# the self-supervised encoder (docs/ssl.md): base size (random weights) against the BiLSTM, the ssl profile's batch
if [ "$DEV" = cuda ]; then SSL+=(--amp); SSL_OUT=ssl_encoder_bf16.json; else SSL_OUT=ssl_encoder.json; fi
timeout 300 "$PY" benchmarks/ssl_encoder.py --device "$DEV" "${SSL[@]}" | tee "$OUT/$SSL_OUT"
echo "gpu_check ($MODE): done; results in $OUT"
