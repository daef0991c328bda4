#!/usr/bin/python3
"""Reference figures for the Unigram trainer's quality test (tests/tokenizers/trainers.test.ts):
trains SentencePiece Unigram models with spm_train's defaults (via Debian's python3-sentencepiece,
the same C++ library as spm_train) on the test corpus's training lines and counts the tokens of the
held-out lines (as spm_encode --output_format=id gives them, no <s>/</s>).

    apt-get install -y python3-sentencepiece sentencepiece
    npm run build && /usr/bin/python3 scripts/reference/unigram_quality.py

Writes tests/fixtures/unigram-quality.json. The text comes from
scripts/reference/unigram-quality-text.mjs; its SHA-256 is recorded so the test knows it trains on
the same text.
"""
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
VOCAB_SIZES = [2000, 8000]


def main():
    text = json.loads(subprocess.run(['node', os.path.join(ROOT, 'scripts', 'reference', 'unigram-quality-text.mjs')],
                                     check=True, capture_output=True).stdout)
    train = '\n'.join(text['train']) + '\n'
    held = text['heldOut']
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'train.txt')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(train)
        for v in VOCAB_SIZES:
            prefix = os.path.join(tmp, 'm%d' % v)
            spm.SentencePieceTrainer.train(input=path, model_prefix=prefix, vocab_size=v, model_type='unigram',
                                           num_threads=1, minloglevel=2)
            sp = spm.SentencePieceProcessor(model_file=prefix + '.model')
            tokens = sum(len(sp.encode(line)) for line in held)
            unknown = sum(sum(1 for i in sp.encode(line) if i == sp.unk_id()) for line in held)
            cases.append({'vocab_size': v, 'pieces': sp.get_piece_size(), 'heldout_tokens': tokens, 'heldout_unknown': unknown})
    dpkg = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'python3-sentencepiece'], capture_output=True, text=True).stdout
    doc = {
        'format': 'attn-fixture/1',
        'generator': 'scripts/reference/unigram_quality.py',
        'versions': {'sentencepiece': spm.__version__, 'debian_package': 'python3-sentencepiece ' + dpkg,
                     'python': sys.version.split()[0]},
        'created': datetime.date.today().isoformat(),
        'train_sha256': hashlib.sha256(train.encode('utf-8')).hexdigest(),
        'train_lines': len(text['train']),
        'heldout_lines': len(held),
        'heldout_bytes': sum(len(line.encode('utf-8')) for line in held),
        'spm_options': 'model_type=unigram, defaults otherwise (character_coverage 0.9995, nmt_nfkc, shrinking_factor 0.75, max_sentencepiece_length 16, seed_sentencepiece_size 1000000)',
        'cases': cases,
    }
    with open(os.path.join(ROOT, 'tests', 'fixtures', 'unigram-quality.json'), 'w', encoding='utf-8') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
