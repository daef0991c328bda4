/**
 * The one-way dependency rule of ../shared/GUIDE.md: imports point toward src/tensor, never
 * back; nothing imports src/cli; the core layers stay free of Node built-ins (they run in browsers).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src');

/** Layer -> layers it may import (besides itself). */
export const ALLOWED: Record<string, readonly string[]> = {
  tensor: [],
  backends: ['tensor'],
  ops: ['tensor'],
  nn: ['tensor', 'ops'],
  formats: ['tensor'],
  tokenizers: [],
  models: ['tensor', 'ops', 'nn', 'formats'],
  train: ['tensor', 'ops', 'nn', 'models', 'formats', 'tokenizers'],
  inference: ['tensor', 'ops', 'nn', 'models', 'formats', 'tokenizers'],
  analysis: ['tensor', 'ops', 'nn', 'models', 'formats', 'tokenizers', 'inference'],
  align: ['tensor', 'ops', 'nn', 'models', 'formats', 'tokenizers', 'train', 'inference'],
  serve: ['tensor', 'ops', 'nn', 'models', 'formats', 'tokenizers', 'inference', 'analysis'],
  web: ['tensor', 'ops', 'nn', 'models', 'formats', 'tokenizers', 'inference', 'analysis', 'backends'],
  index: ['tensor', 'backends', 'ops', 'nn', 'formats', 'tokenizers', 'models', 'train', 'inference', 'analysis', 'align', 'serve'],
  cli: ['tensor', 'backends', 'ops', 'nn', 'formats', 'tokenizers', 'models', 'train', 'inference', 'analysis', 'align', 'serve', 'index'],
};

/** Layers that must not use Node built-ins (file I/O lives in formats/ and in *-node.ts files). */
const BROWSER_SAFE = new Set(['tensor', 'ops', 'nn', 'tokenizers', 'models']);

function layerOf(file: string): string {
  const rel = relative(SRC, file).split(sep);
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
}

export function importsOf(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;
  for (const m of source.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** Violations for one file's source text. */
export function violations(file: string, source: string): string[] {
  const from = layerOf(file);
  const allowed = ALLOWED[from];
  if (!allowed) return [`${relative(SRC, file)}: unknown layer '${from}' (add it to ALLOWED and docs/architecture.md)`];
  const out: string[] = [];
  for (const spec of importsOf(source)) {
    if (spec.startsWith('node:') || ['fs', 'path', 'os', 'worker_threads', 'child_process'].includes(spec)) {
      if (BROWSER_SAFE.has(from) && !file.endsWith('-node.ts')) out.push(`${relative(SRC, file)}: layer '${from}' must not import Node built-in '${spec}'`);
      continue;
    }
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(SRC)) continue;
    const to = layerOf(target.replace(/\.js$/, '.ts'));
    if (to === from) continue;
    if (to === 'cli') out.push(`${relative(SRC, file)}: nothing may import cli (imports '${spec}')`);
    else if (!allowed.includes(to)) out.push(`${relative(SRC, file)}: layer '${from}' may not import layer '${to}' ('${spec}')`);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('architecture: import direction', () => {
  it('every import in src/ follows the dependency rule', () => {
    const files = sourceFiles(SRC);
    assert.ok(files.length > 20, `found only ${files.length} source files under ${SRC}`);
    const all = files.flatMap((f) => violations(f, readFileSync(f, 'utf8')));
    assert.deepEqual(all, []);
  });

  it('the checker flags imports against the direction', () => {
    const fake = join(SRC, 'tensor', 'fake.ts');
    assert.deepEqual(violations(fake, "import { GPT2 } from '../models/gpt2.js';"), [
      "tensor/fake.ts: layer 'tensor' may not import layer 'models' ('../models/gpt2.js')",
    ]);
    assert.deepEqual(violations(join(SRC, 'ops', 'x.ts'), "import { readFileSync } from 'node:fs';"), [
      "ops/x.ts: layer 'ops' must not import Node built-in 'node:fs'",
    ]);
    assert.deepEqual(violations(join(SRC, 'train', 'x.ts'), "export * from '../cli/main.js';"), [
      "train/x.ts: nothing may import cli (imports '../cli/main.js')",
    ]);
    assert.deepEqual(violations(join(SRC, 'nn', 'x.ts'), "import type { Tensor } from '../tensor/index.js';\nimport { softmax } from '../ops/index.js';"), []);
  });
});
