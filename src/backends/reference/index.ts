/**
 * The reference backend: plain TypeScript over JS typed arrays. It is the living definition of
 * every kernel's semantics; faster backends must agree with it (tests/backends/conformance.ts).
 */
import type { Backend } from '../../tensor/index.js';
import { binary, compare, copy, unary, where } from './elementwise.js';
import { reduce } from './reduce.js';
import { matmul } from './matmul.js';
import { concat, gather, indexAdd, indexSelect, pad, scatterAdd } from './indexing.js';
import { referenceFused } from './fused.js';

export const referenceBackend: Backend = {
  name: 'reference',
  unary,
  binary,
  compare,
  where,
  reduce,
  matmul,
  copy,
  pad,
  concat,
  gather,
  scatterAdd,
  indexSelect,
  indexAdd,
  fused: referenceFused,
};

/** The same kernels without fused ones: every composite op takes its composed path. */
export const referenceBackendUnfused: Backend = { ...referenceBackend, name: 'reference-unfused', fused: {} };
