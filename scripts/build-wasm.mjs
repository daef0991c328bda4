#!/usr/bin/env node
// Compiles assembly/ (AssemblyScript) into dist/wasm/attn-simd.wasm and attn-relaxed-simd.wasm.
// Runs from `npm run build` / `npm ci` (prepare): no downloaded binaries, only the asc compiler.
import { mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const asc = require.resolve('assemblyscript/bin/asc.js');
mkdirSync('dist/wasm', { recursive: true });
const common = [
  'assembly/index.ts', '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd', '--enable', 'threads',
  '--importMemory', '--sharedMemory', '--initialMemory', '64', '--maximumMemory', '65536',
];
for (const [name, extra] of [['simd', []], ['relaxed-simd', ['--enable', 'relaxed-simd']]]) {
  const r = spawnSync(process.execPath, [asc, ...common, ...extra, '-o', `dist/wasm/attn-${name}.wasm`], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-wasm: asc failed for the ${name} variant`);
    process.exit(r.status ?? 1);
  }
}
