#!/usr/bin/env bash
# The candidate flowguide-small v2 (docs/training.md, "A per-frame VAE"): a VAE that codes every frame alone
# (--temporal-factor 1, 8 latent channels; 32.9 dB on held-out clips), then the transformer + text encoder on its
# latents with patch (1,4,4). Not shipped until it measures better than v1; these are the commands its runs use.
# Run from the repository root; every stage checkpoints and resumes bit-exactly, so the script can be stopped and run
# again (also across sessions): a finished stage is skipped, an interrupted one continues from its last checkpoint.
set -euo pipefail
RUN=${RUN:-runs/v2}
OUT=${OUT:-models/flowguide-small-v2}
dotnet build src/FlowGuide.Cli -c Release -v q -nologo
FG=src/FlowGuide.Cli/bin/Release/net10.0/flowguide
resume() { [ -d "$1/checkpoint" ] && echo --resume || true; }
VAE_LAYOUT=(--temporal-factor 1 --z-dim 8 --frames 5 --batch 4)

# 1. per-frame VAE: 1800 steps from scratch (1.1-1.4 s/step), then 1800 more under a fresh schedule (about 1 s/step)
[ -f "$RUN/vae/vae/config.json" ] || \
  $FG train vae --out "$RUN/vae" "${VAE_LAYOUT[@]}" --steps 1800 --lr 4e-4 --warmup 50 --min-lr 1e-5 \
    --checkpoint-every 100 --validate-every 300 --log-every 50 $(resume "$RUN/vae")
[ -f "$RUN/vae2/vae/config.json" ] || \
  $FG train vae --init "$RUN/vae/vae" --out "$RUN/vae2" "${VAE_LAYOUT[@]}" --steps 1800 --lr 3e-4 --warmup 50 \
    --min-lr 1e-5 --seed 1 --checkpoint-every 100 --validate-every 300 --log-every 50 $(resume "$RUN/vae2")

# 2. transformer + text encoder on its latents: 272 tokens (17 frames x 4 x 4 patches), one 13,000-step schedule
[ -f "$RUN/dit/model/model_index.json" ] || \
  $FG train dit --vae "$RUN/vae2/vae" --out "$RUN/dit" --patch 1,4,4 --steps 13000 --batch 4 --train-clips 8192 \
    --lr 5e-4 --warmup 200 --checkpoint-every 250 --validate-every 1000 --log-every 50 $(resume "$RUN/dit")

# 3. the model folder: the same weights stored as f16
[ -e "$OUT" ] || $FG model convert --from "$RUN/dit/model" --to "$OUT" --dtype f16
