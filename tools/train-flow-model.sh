#!/usr/bin/env bash
# Reproduces models/raft-small/raft-small.safetensors (RaftSmall, the learned flow estimator) from nothing.
# Run from the repository root. The run checkpoints every 250 steps and resumes bit-exactly, so the script can be
# stopped and run again (same STEPS). The shipped weights are the run's best-validation file, copied unchanged (f32).
# The CLI is copied into RUN/bin first, so rebuilding the tree during a run does not swap the binary under it.
# Time and curve of the shipped run: models/raft-small/README.md.
set -euo pipefail
RUN=${RUN:-runs/raft-small}
OUT=${OUT:-models/raft-small}
STEPS=${STEPS:-4000}
mkdir -p "$RUN/bin"
dotnet build src/FlowGuide.Cli -c Release -v q -nologo
cp -r src/FlowGuide.Cli/bin/Release/net10.0/. "$RUN/bin/"
FG="$RUN/bin/flowguide"
resume() { [ -d "$1/checkpoint" ] && echo --resume || true; }

# procedural FlyingChairs-style pairs (3 of 4) + motion-world pairs (1 of 4) at 64x64, AdamW 4e-4 (warm-up 200, cosine
# to 2% at STEPS), batch 8, gradient clipping at 1; validation EPE on 32 held-out procedural pairs every 250 steps
nice -n 19 "$FG" train flow --out "$RUN" --steps "$STEPS" --batch 8 --lr 4e-4 --validate-every 250 --seed 1 $(resume "$RUN")
mkdir -p "$OUT"
cp "$RUN/raft-small.safetensors" "$OUT/raft-small.safetensors"
