#!/usr/bin/env bash
# The GPU check of the paper-scale pipeline, in under 8 minutes on one GPU (run it with a 9-minute timeout):
#   1. speed.py on the paper preset at 256 px, bf16, batch 12 and 64 (an OOM row if it does not fit), compile off and on
#      (images/s, GFLOP per image, TFLOP/s, share of the GPU's bf16 peak, peak memory);
#   2. a 2-minute torchrun run on CUDA with NCCL (as many processes as GPUs), on synthetic people.
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]      (--device cpu for a dry run: DEVICE=cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-${OUT:-gpu_check}}"
DEVICE="${DEVICE:-cuda}"
mkdir -p "$OUT"
if [ "$DEVICE" = cuda ]; then
  SIZES="256"; BATCHES="12 64"; COMPILE="off on"; STEPS=10; WORKERS=6; NPROC="$(python -c 'import torch; print(max(1, torch.cuda.device_count()))')"
  TRAIN_MINUTES=2; SECONDS_RUN=120; TRAIN_SIZE=256; PRESET=paper
else  # a dry run on CPU: the same commands, tiny
  SIZES="32"; BATCHES="2"; COMPILE="off"; STEPS=1; NPROC=2; WORKERS=1; TRAIN_MINUTES=0.3; SECONDS_RUN=20; TRAIN_SIZE=32; PRESET=tiny
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>/dev/null || echo "no nvidia-smi" > "$OUT/gpu.txt"
echo "+ speed" >&2
python benchmarks/speed.py --device "$DEVICE" --config "$PRESET" --sizes $SIZES --dtypes bf16 --batch $BATCHES \
  --compile $COMPILE --steps "$STEPS" --warmup 2 2>&1 | tee "$OUT/speed.txt"
echo "+ torchrun ($NPROC processes, $TRAIN_MINUTES min)" >&2
python -m poseshift synth --out "$OUT/people" --people 64 --poses-per-person 2 --size "$TRAIN_SIZE" --quiet --workers 4 >/dev/null
timeout $((SECONDS_RUN + 120)) python -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m poseshift train \
  --config "$PRESET" --data "$OUT/people" --out "$OUT/run" --device "$DEVICE" --quiet --minutes "$TRAIN_MINUTES" \
  --set "model.image_size=$TRAIN_SIZE" --set train.bf16=true --set train.channels_last=true \
  --set "train.batch_size=$((12 * NPROC))" --set train.log_every=20 --set train.sample_every=100000 \
  --set train.checkpoint_every=100000 --set "train.workers=$WORKERS" --max-steps 100000
tail -n 3 "$OUT/run/log.jsonl" | tee "$OUT/torchrun_tail.txt"
