#!/usr/bin/env bash
# Reproduces models/flowguide-small (v2) from nothing: a per-frame VAE (--temporal-factor 1, 8 latent channels) in two
# stages, then the transformer + text encoder on its latents with patch (1,4,4), then the f16 model folder with the
# sampling defaults chosen on validation prompts (CFG 8). Run from the repository root. Every stage checkpoints and
# resumes bit-exactly, so the script can be stopped and run again (also across sessions): a finished stage is
# skipped, an interrupted one continues from its last checkpoint. Times and measurements: models/flowguide-small/README.md
# and docs/training.md. (v1's recipe, a 4x-temporal VAE, is in git history: tools/train-shipped-model.sh before 2026-11-22.)
set -euo pipefail
RUN=${RUN:-runs/ship}
OUT=${OUT:-models/flowguide-small}
dotnet build src/FlowGuide.Cli -c Release -v q -nologo
FG=src/FlowGuide.Cli/bin/Release/net10.0/flowguide
resume() { [ -d "$1/checkpoint" ] && echo --resume || true; }
VAE_LAYOUT=(--temporal-factor 1 --z-dim 8 --frames 5 --batch 4)

# 1. per-frame VAE (compact architecture, MSE + 1e-6 KL): 1800 steps from scratch, then 1800 more from its export
#    under a fresh schedule and another seed
[ -f "$RUN/vae/vae/config.json" ] || \
  $FG train vae --out "$RUN/vae" "${VAE_LAYOUT[@]}" --steps 1800 --lr 4e-4 --warmup 50 --min-lr 1e-5 \
    --checkpoint-every 100 --validate-every 300 --log-every 50 $(resume "$RUN/vae")
[ -f "$RUN/vae2/vae/config.json" ] || \
  $FG train vae --init "$RUN/vae/vae" --out "$RUN/vae2" "${VAE_LAYOUT[@]}" --steps 1800 --lr 3e-4 --warmup 50 \
    --min-lr 1e-5 --seed 1 --checkpoint-every 100 --validate-every 300 --log-every 50 $(resume "$RUN/vae2")

# 2. transformer + text encoder (flow matching, logit-normal t, 10% caption dropout): 272 tokens (17 frames x 4 x 4
#    patches), one 13,000-step schedule over 8192 distinct clips (latents cached under $RUN/dit/latents)
[ -f "$RUN/dit/model/model_index.json" ] || \
  $FG train dit --vae "$RUN/vae2/vae" --out "$RUN/dit" --patch 1,4,4 --steps 13000 --batch 4 --train-clips 8192 \
    --lr 5e-4 --warmup 200 --checkpoint-every 250 --validate-every 1000 --log-every 50 $(resume "$RUN/dit")

# 3. the shipped folder: the same weights stored as f16, CFG 8 as the default (chosen on validation-split prompts)
[ -e "$OUT" ] || $FG model convert --from "$RUN/dit/model" --to "$OUT" --dtype f16 --cfg 8
