/**
 * The paged cache equals the dense cache on the same sequences: LLaMA (GQA, 2 layers) run through
 * a pool of 4-position blocks gives bit-identical logits to a dense cache, also for sequences
 * forked from a shared prefix that end mid-block (the shared block is copied on the first write,
 * and the parent keeps its own), for beams forked repeatedly, after trim, and with prefill in
 * chunks. Reference counts, the free list and the out-of-blocks error are checked directly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InferenceSession, PagedKVPool, generativeModel, loadModel, readHfFolder, type GenerativeModel } from '../../src/index.js';
import { FIXTURES } from '../helpers.js';

function llama(): GenerativeModel {
  const f = readHfFolder(join(FIXTURES, 'models-llama'));
  return generativeModel(loadModel(f), { config: f.config });
}

function pool(model: GenerativeModel, blocks = 32): PagedKVPool {
  const g = model.geometry;
  return new PagedKVPool({ layers: g.layers, blocks, blockSize: 4, kvHeads: g.kvHeads, headDim: g.headDim });
}

/** Logits after feeding `steps` (each a list of ids) through a dense session. */
function dense(model: GenerativeModel, steps: number[][]): Float32Array[] {
  const s = new InferenceSession(model, { cache: { kind: 'dense' } });
  const out = steps.map((ids) => s.feed(ids));
  s.dispose();
  return out;
}

describe('paged KV cache == dense KV cache', () => {
  const model = llama();

  it('one sequence: identical logits at every step, blocks allocated 4 positions at a time', () => {
    const p = pool(model);
    const s = new InferenceSession(model, { cache: { kind: 'paged', pool: p } });
    const steps = [[1, 5, 9, 13, 2, 7], [30], [31], [32], [33]];
    const want = dense(model, steps);
    steps.forEach((ids, i) => assert.deepEqual([...s.feed(ids)], [...want[i]!], `step ${i}`));
    assert.equal(p.usedBlocks, 3, '10 positions in blocks of 4');
    s.dispose();
    assert.equal(p.freeBlocks, 32);
  });

  it('forks sharing a prefix that ends mid-block: copy-on-write keeps parent and children exact', () => {
    const p = pool(model);
    const parent = new InferenceSession(model, { cache: { kind: 'paged', pool: p } });
    const prompt = [1, 5, 9, 13, 2, 7]; // blocks [0..3], [4, 5 | free]
    parent.feed(prompt);
    const a = parent.fork();
    const b = parent.fork();
    assert.equal(p.usedBlocks, 2, 'forks share the blocks');
    const table = (s: InferenceSession) => (s.layerCaches![0] as unknown as { sequence: { blockTable: number[] } }).sequence.blockTable;
    assert.deepEqual(table(a), table(parent));
    for (const blk of table(parent)) assert.equal(p.refCount(blk), 3);
    const copiesBefore = p.copies;
    const la = [a.feed([40]), a.feed([41]), a.feed([42])];
    const lb = [b.feed([50, 51]), b.feed([52])];
    const lp = [parent.feed([60]), parent.feed([61])];
    assert.ok(p.copies - copiesBefore >= 2, 'the shared partial block was copied for the writers');
    assert.equal(p.refCount(table(parent)[0]!), 3, 'the full first block is still shared by all three');
    const wantA = dense(model, [prompt, [40], [41], [42]]).slice(1);
    const wantB = dense(model, [prompt, [50, 51], [52]]).slice(1);
    const wantP = dense(model, [prompt, [60], [61]]).slice(1);
    la.forEach((l, i) => assert.deepEqual([...l], [...wantA[i]!], `fork a step ${i}`));
    lb.forEach((l, i) => assert.deepEqual([...l], [...wantB[i]!], `fork b step ${i}`));
    lp.forEach((l, i) => assert.deepEqual([...l], [...wantP[i]!], `parent step ${i}`));
    for (const s of [a, b, parent]) s.dispose();
    assert.equal(p.freeBlocks, 32, 'every block back on the free list');
  });

  it('a fork at a block boundary shares whole blocks and copies nothing', () => {
    const p = pool(model);
    const parent = new InferenceSession(model, { cache: { kind: 'paged', pool: p } });
    parent.feed([3, 4, 5, 6, 7, 8, 9, 10]);
    const child = parent.fork();
    const before = p.copies;
    const got = child.feed([11]);
    assert.equal(p.copies, before);
    assert.deepEqual([...got], [...dense(model, [[3, 4, 5, 6, 7, 8, 9, 10], [11]])[1]!]);
    child.dispose();
    parent.dispose();
  });

  it('trim releases blocks and decoding continues as on the dense cache; chunked prefill matches too', () => {
    const p = pool(model);
    const s = new InferenceSession(model, { cache: { kind: 'paged', pool: p }, prefillChunk: 3 });
    s.feed([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(p.usedBlocks, 3);
    assert.equal(s.trim(5), 4);
    assert.equal(p.usedBlocks, 1, 'positions 0..3 fit one block');
    const got = s.feed([20]);
    // the same chunks on a dense cache: position 3 was computed with 4..6 and then kept
    const d = new InferenceSession(model, { cache: { kind: 'dense' }, prefillChunk: 3 });
    d.feed([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    d.trim(5);
    assert.deepEqual([...got], [...d.feed([20])]);
    d.dispose();
    s.dispose();
  });

  it('pool bookkeeping: reference counts, free list order, errors', () => {
    const p = new PagedKVPool({ layers: 1, blocks: 2, blockSize: 2, kvHeads: 1, headDim: 4 });
    const a = p.allocate();
    const b = p.allocate();
    assert.deepEqual([a, b], [0, 1]);
    assert.throws(() => p.allocate(), /out of KV blocks \(2 blocks of 2 positions are all in use\)/);
    p.retain(a);
    p.release(a);
    assert.equal(p.refCount(a), 1);
    p.release(a);
    assert.equal(p.freeBlocks, 1);
    assert.throws(() => p.release(a), /block 0 released more often than it was taken/);
    assert.equal(p.allocate(), 0);
    assert.throws(() => new PagedKVPool({ layers: 1, blocks: 0, blockSize: 2, kvHeads: 1, headDim: 4 }), /blocks must be a positive integer, got 0/);
    const full = pool(model, 2);
    const s = new InferenceSession(model, { cache: { kind: 'paged', pool: full } });
    assert.throws(() => s.feed([1, 2, 3, 4, 5, 6, 7, 8, 9]), /out of KV blocks/);
    const wrong = new PagedKVPool({ layers: 3, blocks: 2, blockSize: 2, kvHeads: 1, headDim: 4 });
    assert.throws(() => new InferenceSession(model, { cache: { kind: 'paged', pool: wrong } }), /paged pool \[3 layers, 1 heads, 4\] does not fit the model/);
  });
});
