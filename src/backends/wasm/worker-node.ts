/** Worker thread body: instantiate the kernels on the shared memory and serve jobs forever. */
import { workerData } from 'node:worker_threads';
import { WasmRuntime } from './runtime.js';
import { GEN, SHUTDOWN, controlBlock, runChunks, waitChange } from './pool.js';

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
// is still joined if it is running (the caller does not wait for us: chunks are claimed).
let gen = 0;
for (;;) {
  waitChange(ctrl, GEN, gen);
  gen = Atomics.load(ctrl, GEN);
  if (Atomics.load(ctrl, SHUTDOWN)) break;
  // a failed chunk is marked in the control block for the caller to throw; the worker stays up
  const error = runChunks(rt, ctrl, init.index, gen);
  if (error !== null) console.error(`attn wasm worker ${init.index}:`, error);
}
