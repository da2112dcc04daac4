#!/usr/bin/env bash
# Reproduces models/flowguide-small from nothing: VAE, then transformer + text encoder, then the f16 model folder.
# Run from the repository root. Every stage checkpoints and resumes bit-exactly, so the script can be stopped and run
# again (also across sessions): a finished stage is skipped, an interrupted one continues from its last checkpoint.
# Times on the 2-core reference machine are in docs/training.md.
set -euo pipefail
RUN=${RUN:-runs/ship}
OUT=${OUT:-models/flowguide-small}
dotnet build src/FlowGuide.Cli -c Release -v q -nologo
FG=src/FlowGuide.Cli/bin/Release/net10.0/flowguide
resume() { [ -d "$1/checkpoint" ] && echo --resume || true; }

# 1. VAE (compact architecture, MSE + 1e-6 KL, AdamW 4e-4, warm-up 50, cosine to 1e-5, EMA 0.999 with warm-up)
[ -f "$RUN/vae/vae/config.json" ] || \
  $FG train vae --out "$RUN/vae" --steps 1800 --batch 2 --lr 4e-4 --warmup 50 --min-lr 1e-5 \
    --checkpoint-every 100 --validate-every 300 --log-every 25 $(resume "$RUN/vae")

# 2. transformer + text encoder (flow matching, logit-normal t, 10% caption dropout, latents cached under $RUN/dit/latents)
[ -f "$RUN/dit/model/model_index.json" ] || \
  $FG train dit --vae "$RUN/vae/vae" --out "$RUN/dit" --steps 4000 --batch 4 --train-clips 4096 --lr 5e-4 \
    --warmup 200 --checkpoint-every 250 --validate-every 1000 --log-every 25 $(resume "$RUN/dit")

# 3. continued training (v1): stage 2's exported EMA weights initialise a second run under a fresh schedule over twice
#    the clips (its first 4096 latents are stage 2's cache; the rest are encoded on first use)
[ -f "$RUN/dit2/model/model_index.json" ] || \
  $FG train dit --vae "$RUN/vae/vae" --init "$RUN/dit/model" --out "$RUN/dit2" --latent-cache "$RUN/dit/latents" \
    --steps 9000 --batch 4 --train-clips 8192 --lr 3e-4 --warmup 100 --checkpoint-every 250 --validate-every 1500 \
    --log-every 50 $(resume "$RUN/dit2")

# 4. the shipped folder: the same weights stored as f16
[ -e "$OUT" ] || $FG model convert --from "$RUN/dit2/model" --to "$OUT" --dtype f16
