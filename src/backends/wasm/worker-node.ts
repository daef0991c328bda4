/** Worker thread body: instantiate the kernels on the shared memory and serve jobs forever. */
import { workerData } from 'node:worker_threads';
import { WasmRuntime } from './runtime.js';
import { DONE, GEN, SHUTDOWN, controlBlock, runShare, waitChange } from './pool.js';

interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  threads: number;
  index: number;
}

const init = workerData as WorkerInit;
const rt = new WasmRuntime({ module: init.module, memory: init.memory, threads: init.threads });
const ctrl = controlBlock(rt);
// Start from generation 0, not the current value: a job posted while this worker was booting
// must still be seen (the caller cannot finish it without us).
let gen = 0;
for (;;) {
  waitChange(ctrl, GEN, gen);
  gen = Atomics.load(ctrl, GEN);
  if (Atomics.load(ctrl, SHUTDOWN)) break;
  runShare(rt, ctrl, init.index);
  Atomics.add(ctrl, DONE, 1);
  Atomics.notify(ctrl, DONE);
}
