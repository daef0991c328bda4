// The wasm thread pool's protocol: when a thread may read a job's arguments, and what a chunk
// that throws does to the job, the caller and the pool.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadWasm } from '../../src/backends/wasm/load-node.js';
import { CHUNKS, DONE, FAILED, GEN, JOB_MATVEC_MANY, JOB_READ, NEXT, controlBlock, postJob, runChunks } from '../../src/backends/wasm/pool.js';

const single = loadWasm({ threads: 1 });
const threaded = loadWasm({ threads: 2 });
after(() => {
  single.pool.close();
  threaded.pool.close();
});

/** n floats (each 1) in scratch memory of rt, and room for the read probe's per-chunk sums. */
function readJobArgs(rt: typeof single.runtime, n: number): { args: number[]; sum: number } {
  const data = rt.alloc(n * 4);
  const view = rt.f32(data, n);
  view.fill(1);
  const results = rt.alloc(64 * 4);
  rt.f32(results, 64).fill(0);
  return { args: [data, n, results], sum: n };
}

describe('wasm thread pool', () => {
  it('a thread that looked at a job the caller then replaced claims nothing and reads none of its arguments', () => {
    const rt = single.runtime;
    const ctrl = controlBlock(rt);
    try {
      const { args } = readJobArgs(rt, 4096);
      const gen = postJob(ctrl, JOB_READ, args, 2);
      ctrl[GEN] = gen;
      // between this thread's look at the claim counter and its claim, the caller finishes the job
      // and posts the next one: a several-matrices matvec whose table length is not a valid view
      let posted = 0;
      const error = runChunks(rt, ctrl, 1, gen, () => {
        if (posted++ > 0) return;
        ctrl[GEN] = postJob(ctrl, JOB_MATVEC_MANY, [0, 64, 2 ** 30, 1, 64, 0, 64, 64, 0, 0, 0], 2);
      });
      assert.equal(error, null);
      assert.equal(Atomics.load(ctrl, NEXT) & 0xfff, 0, 'no chunk of the new job was claimed');
      assert.equal(Atomics.load(ctrl, DONE), 0);
    } finally {
      rt.reset();
    }
  });

  it('a chunk that traps marks the job failed, the remaining chunks are counted without running, and the thread returns the error', () => {
    const rt = single.runtime;
    const ctrl = controlBlock(rt);
    try {
      const results = rt.alloc(64 * 4);
      // data past the end of memory: the first chunk's read traps
      const gen = postJob(ctrl, JOB_READ, [rt.memory.buffer.byteLength + 4096, 1 << 16, results], 2);
      ctrl[GEN] = gen;
      const chunks = ctrl[CHUNKS]!;
      assert.ok(chunks > 1);
      const error = runChunks(rt, ctrl, 1, gen);
      assert.ok(error instanceof Error && error.name === 'RuntimeError', `got ${String(error)}`);
      assert.match(String(error), /out of bounds/);
      assert.equal(Atomics.load(ctrl, FAILED), 1);
      assert.equal(Atomics.load(ctrl, DONE), chunks, 'every chunk counted, so the caller never waits for one');
    } finally {
      rt.reset();
    }
  });

  for (const [name, loaded] of [['one thread', single], ['two threads', threaded]] as const) {
    it(`${name}: a job that traps throws from run(), and the pool runs the next job correctly`, () => {
      const rt = loaded.runtime;
      try {
        const results = rt.alloc(64 * 4);
        assert.throws(
          () => loaded.pool.run(JOB_READ, [rt.memory.buffer.byteLength + 4096, 1 << 16, results]),
          /out of bounds|worker thread failed on a job of kind 5 \(read probe\)/,
        );
        const { args, sum } = readJobArgs(rt, 1 << 16);
        loaded.pool.run(JOB_READ, args);
        const total = rt.f32(args[2]!, 64).reduce((a, b) => a + b, 0);
        assert.equal(total, sum);
      } finally {
        rt.reset();
      }
    });
  }
});
