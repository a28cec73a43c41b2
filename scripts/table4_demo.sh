#!/usr/bin/env bash
# Run the paper's Table 2-4 settings as DVC experiments and keep each run's metrics/eval.json under
# results/demo/<setting>_seed<k>.json, for `sa2sr tables`.
#   usage: bash scripts/table4_demo.sh [SEED_OFFSET ...]      (default: 1)
# Seeds vary fine-tuning only (finetune.seed_offset); pre-training is shared per lambda: SA2SR = the params'
# lambda (the committed pre-training), ASR = lambda 0.
#  - SA2SR settings are queued (`dvc exp run --queue`) and run by `dvc queue start`: each queued experiment
#    starts from the committed pipeline, so only finetune + evaluate run.
#  - ASR and scratch settings run one after another in the workspace: a persisted pre-training output is not
#    restored from DVC's run cache, so queued lambda=0 experiments would each re-train the ASR model (9 min);
#    in the workspace the first one trains it and the others re-use it.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
seeds=("${@:-1}")
lam=$(python -c "import yaml; print(yaml.safe_load(open('params.yaml'))['lambda'])")
out=results/demo
mkdir -p "$out"

exp_json() {  # name -> metrics/eval.json of that experiment's commit
  local ref
  ref=$(git for-each-ref --format='%(refname)' refs/exps | grep "/$1\$" | tail -n 1)
  [ -n "$ref" ] || { echo "experiment $1 not found (see: dvc queue logs $1)" >&2; return 1; }
  git show "$ref:metrics/eval.json"
}

# 1. SA2SR (fine-tuned, frozen): queue, then run the queue.
for s in "${seeds[@]}"; do
  dvc exp run --queue -n "sa2sr_seed$s" -S "lambda=$lam" -S "finetune.seed_offset=$s" \
    -S finetune.init=pretrained -S finetune.freeze_encoder=false
  dvc exp run --queue -n "sa2sr_frozen_seed$s" -S "lambda=$lam" -S "finetune.seed_offset=$s" \
    -S finetune.init=pretrained -S finetune.freeze_encoder=true
done
dvc queue start -j 1
# (grep without -q reads the whole status: with pipefail, -q's early exit would end the loop at once)
while dvc queue status | grep -E 'Queued|Running' > /dev/null; do sleep 30; done
dvc queue status
for s in "${seeds[@]}"; do
  for name in "sa2sr_seed$s" "sa2sr_frozen_seed$s"; do exp_json "$name" > "$out/$name.json"; done
done

# 2. ASR (fine-tuned, frozen) and scratch: in the workspace, one lambda=0 pre-training for all.
run() {  # name, then -S overrides
  local name=$1; shift
  dvc exp run -n "$name" "$@"
  cp metrics/eval.json "$out/$name.json"
}
for s in "${seeds[@]}"; do
  run "asr_seed$s" -S lambda=0 -S "finetune.seed_offset=$s" -S finetune.init=pretrained -S finetune.freeze_encoder=false
  run "asr_frozen_seed$s" -S lambda=0 -S "finetune.seed_offset=$s" -S finetune.init=pretrained -S finetune.freeze_encoder=true
  run "scratch_seed$s" -S lambda=0 -S "finetune.seed_offset=$s" -S finetune.init=scratch -S finetune.freeze_encoder=false
done
git checkout -- params.yaml dvc.lock metrics && dvc checkout -q
dvc exp show --only-changed --drop 'Created' 2>/dev/null | head -n 40 || true
