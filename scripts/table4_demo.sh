#!/usr/bin/env bash
# Run the paper's Table 2-4 settings as DVC experiments and keep each run's metrics/eval.json under
# results/demo/<setting>_seed<k>.json, for `sa2sr tables`.
#   usage: bash scripts/table4_demo.sh [SEED_OFFSET ...]      (default: 1)
# Seeds vary fine-tuning only (finetune.seed_offset); pre-training is shared per lambda: SA2SR = the params'
# lambda, ASR = lambda 0. Settings are grouped by lambda because a persisted pre-training output is not
# restored from DVC's run cache: switching lambda back and forth would re-train it each time.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
seeds=("${@:-1}")
lam=$(python -c "import yaml; print(yaml.safe_load(open('params.yaml'))['lambda'])")
out=results/demo
mkdir -p "$out"
run() {  # name, then -S overrides
  local name=$1; shift
  dvc exp run -n "$name" "$@"
  cp metrics/eval.json "$out/$name.json"
}
for s in "${seeds[@]}"; do
  run "sa2sr_seed$s" -S "lambda=$lam" -S "finetune.seed_offset=$s" -S finetune.init=pretrained -S finetune.freeze_encoder=false
  run "sa2sr_frozen_seed$s" -S "lambda=$lam" -S "finetune.seed_offset=$s" -S finetune.init=pretrained -S finetune.freeze_encoder=true
done
for s in "${seeds[@]}"; do
  run "asr_seed$s" -S lambda=0 -S "finetune.seed_offset=$s" -S finetune.init=pretrained -S finetune.freeze_encoder=false
  run "asr_frozen_seed$s" -S lambda=0 -S "finetune.seed_offset=$s" -S finetune.init=pretrained -S finetune.freeze_encoder=true
  run "scratch_seed$s" -S lambda=0 -S "finetune.seed_offset=$s" -S finetune.init=scratch -S finetune.freeze_encoder=false
done
git checkout -- params.yaml dvc.lock metrics && dvc checkout -q
