#!/usr/bin/env node
// npm run experiment -- <name> [args]: runs dist/experiments/<name>.js (build first with npm run build).
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [name, ...rest] = process.argv.slice(2);
const available = existsSync('dist/experiments') ? readdirSync('dist/experiments').filter((f) => f.endsWith('.js') && f !== 'common.js').map((f) => f.replace(/\.js$/, '')) : [];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run experiment -- <name> [args]\navailable: ${available.join(', ') || '(none: run npm run build first)'}`);
  process.exit(name ? 1 : 0);
}
const r = spawnSync(process.execPath, [`dist/experiments/${name}.js`, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
