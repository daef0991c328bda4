#!/usr/bin/env node
// Prints {train, heldOut} (lists of lines) for unigram_quality.py, from the test corpus
// (tests/tokenizers/corpus.ts unigramQualityText; run `npm run build` first).
import { unigramQualityText } from '../../dist/tests/tokenizers/corpus.js';

process.stdout.write(JSON.stringify(unigramQualityText()));
