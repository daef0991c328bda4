#!/usr/bin/env bash
# Trains attn's embedded default model (models/attn-tiny) end to end: prepare.sh makes the data,
# then 'attn train' with configs/attn-tiny.json (a LLaMA-style model) writes build/default-model/run.
# Usage: bash scripts/default-model/train.sh [extra 'attn train' overrides, e.g. --resume]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/default-model/prepare.sh
node "${ATTN_DIST:-dist}/src/cli/main.js" train --config configs/attn-tiny.json "$@"
