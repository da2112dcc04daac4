#!/usr/bin/env bash
# Reproduces models/flowguide-small (v3) from nothing: a per-frame VAE (--temporal-factor 1, 8 latent channels) in two
# stages, then the transformer + text encoder on its latents with patch (1,4,4) in four stages, then the f16 model folder
# with the sampling defaults chosen on validation prompts (CFG 8). Run from the repository root. Every stage checkpoints
# and resumes bit-exactly, so the script can be stopped and run again (also across sessions): a finished stage is
# skipped, an interrupted one continues from its last checkpoint. Stages 3 and 4 stop part-way through their schedules
# (where the shipped run stopped them) and export the EMA weights there.
#
# Stages 1-4 saw motion world 1 (MotionWorld.Version 1), so they run the code of commit $WORLD1_COMMIT, built in a git
# worktree under $RUN; stage 5 and the conversion run this checkout (world 2). Times and measurements:
# models/flowguide-small/README.md and docs/training.md. (v1's and v2's recipes are in git history.)
set -euo pipefail
RUN=${RUN:-runs/ship}
OUT=${OUT:-models/flowguide-small}
WORLD1_COMMIT=${WORLD1_COMMIT:-09b7fc3}
dotnet build src/FlowGuide.Cli -c Release -v q -nologo
FG=src/FlowGuide.Cli/bin/Release/net10.0/flowguide
mkdir -p "$RUN"
[ -d "$RUN/world1-src" ] || git worktree add --detach "$RUN/world1-src" "$WORLD1_COMMIT"
dotnet build "$RUN/world1-src/src/FlowGuide.Cli" -c Release -v q -nologo
FG1=$RUN/world1-src/src/FlowGuide.Cli/bin/Release/net10.0/flowguide
resume() { [ -d "$1/checkpoint" ] && echo --resume || true; }
# run_to DIR STEP CMD...: run CMD (a 'train dit' command writing to DIR) until its checkpoint reaches STEP, then export
# the EMA weights there as DIR/model-stepSTEP
run_to() {
  local dir=$1 target=$2; shift 2
  [ -f "$dir/model-step$target/model_index.json" ] && return 0
  local done=0
  [ -f "$dir/checkpoint/trainer.json" ] && done=$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$dir/checkpoint/trainer.json")
  if [ "$done" -lt "$target" ]; then
    "$@" $([ "$done" -gt 0 ] && echo --resume) --stop-after $((target - done))
  fi
  "$@" --export-checkpoint
}
VAE_LAYOUT=(--temporal-factor 1 --z-dim 8 --frames 5 --batch 4)

# 1. per-frame VAE (compact architecture, MSE + 1e-6 KL): 1800 steps from scratch, then 1800 more from its export
#    under a fresh schedule and another seed
[ -f "$RUN/vae/vae/config.json" ] || \
  $FG1 train vae --out "$RUN/vae" "${VAE_LAYOUT[@]}" --steps 1800 --lr 4e-4 --warmup 50 --min-lr 1e-5 \
    --checkpoint-every 100 --validate-every 300 --log-every 50 $(resume "$RUN/vae")
[ -f "$RUN/vae2/vae/config.json" ] || \
  $FG1 train vae --init "$RUN/vae/vae" --out "$RUN/vae2" "${VAE_LAYOUT[@]}" --steps 1800 --lr 3e-4 --warmup 50 \
    --min-lr 1e-5 --seed 1 --checkpoint-every 100 --validate-every 300 --log-every 50 $(resume "$RUN/vae2")

# 2. transformer + text encoder (flow matching, logit-normal t, 10% caption dropout): 272 tokens (17 frames x 4 x 4
#    patches), one 13,000-step schedule over 8192 distinct clips (latents cached under $RUN/dit/latents); this was v2
[ -f "$RUN/dit/model/model_index.json" ] || \
  $FG1 train dit --vae "$RUN/vae2/vae" --out "$RUN/dit" --patch 1,4,4 --steps 13000 --batch 4 --train-clips 8192 \
    --lr 5e-4 --warmup 200 --checkpoint-every 250 --validate-every 1000 --log-every 50 $(resume "$RUN/dit")

# 3. its continuation under a fresh 40,000-step schedule over 16,384 clips, stopped at step 20,750
run_to "$RUN/dit-v3" 20750 $FG1 train dit --vae "$RUN/vae2/vae" --latent-cache "$RUN/dit/latents" --init "$RUN/dit/model" \
  --out "$RUN/dit-v3" --patch 1,4,4 --steps 40000 --batch 4 --train-clips 16384 --lr 3e-4 --warmup 200 \
  --checkpoint-every 250 --validate-every 2000 --log-every 100

# 4. plus the absolute-position embedding (4 frequencies, starting at zero): a 14,000-step schedule stopped at 5250
run_to "$RUN/dit-v4" 5250 $FG1 train dit --vae "$RUN/vae2/vae" --latent-cache "$RUN/dit/latents" \
  --init "$RUN/dit-v3/model-step20750" --out "$RUN/dit-v4" --patch 1,4,4 --position-frequencies 4 --steps 14000 \
  --batch 4 --train-clips 16384 --lr 3e-4 --warmup 200 --checkpoint-every 250 --validate-every 2000 --log-every 100

# 5. world 2 (straight-moving subjects cross the frame centre): one 8000-step schedule over 8192 clips
[ -f "$RUN/dit-v5/model/model_index.json" ] || \
  $FG train dit --vae "$RUN/vae2/vae" --latent-cache "$RUN/dit/latents" --init "$RUN/dit-v4/model-step5250" \
    --out "$RUN/dit-v5" --patch 1,4,4 --position-frequencies 4 --steps 8000 --batch 4 --train-clips 8192 --lr 3e-4 \
    --warmup 100 --checkpoint-every 250 --validate-every 2000 --log-every 100 $(resume "$RUN/dit-v5")

# 6. the shipped folder: the same weights stored as f16, CFG 8 as the default (chosen on validation-split prompts)
[ -e "$OUT" ] || $FG model convert --from "$RUN/dit-v5/model" --to "$OUT" --dtype f16 --cfg 8

# 7. the latent motion classifier that motion guidance steers with (world 2, the same VAE and latent cache), told the
#    captioned shape's colour (the default of 'train classifier'), shipped as $OUT/motion_classifier; the guidance
#    strength (100) and the noise-search width (16 candidates) were chosen on validation-split prompts. (The shipped
#    weights came from a run validating on 256 clips, then re-exported with 1024 for the per-class figures; validation
#    does not touch the weights.)
[ -f "$RUN/classifier2/classifier/config.json" ] || \
  $FG train classifier --vae "$RUN/vae2/vae" --latent-cache "$RUN/dit/latents" --out "$RUN/classifier2" --steps 8000 \
    --warmup 200 --train-clips 8192 --val-clips 1024 --validate-every 1000 --log-every 100 $(resume "$RUN/classifier2")
[ -e "$OUT/motion_classifier" ] || cp -r "$RUN/classifier2/classifier" "$OUT/motion_classifier"
python3 - "$OUT/model_index.json" <<'PY'
import json, sys
p = sys.argv[1]; j = json.load(open(p))
j["defaults"]["motion_guidance_scale"] = 100.0
j["defaults"]["motion_candidates"] = 16
open(p, "w").write(json.dumps(j, indent=2))
PY