import { parseArgs } from 'node:util';
import { FUSED_KERNEL_NAMES, PRIMITIVES, getBackend } from '../../tensor/index.js';
import type { Command } from '../command.js';

export const ops: Command = {
  name: 'ops',
  summary: 'list the primitive ops and the fused kernels of the active backend',
  usage: `attn ops [--json]

Lists the primitive ops (each with one gradient rule) and which named fused kernels the
active backend provides (the others run their composed versions).

Options:
  --json   print {"backend", "primitives", "fused"} as JSON`,
  run(argv) {
    const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, strict: true });
    const b = getBackend();
    const fused = FUSED_KERNEL_NAMES.filter((n) => b.fused[n] !== undefined);
    if (values.json) {
      console.log(JSON.stringify({ backend: b.name, primitives: PRIMITIVES, fused }));
      return;
    }
    console.log(`backend: ${b.name}`);
    console.log(`primitives (${PRIMITIVES.length}): ${PRIMITIVES.join(', ')}`);
    console.log(`fused kernels: ${fused.join(', ') || '(none)'}`);
  },
};
