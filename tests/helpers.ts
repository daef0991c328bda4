/** Shared test helpers: fixture loading, numeric comparison with explicit tolerances, temp folders. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { zeros, type DType, type Tensor } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
/** tests/fixtures in the source tree (tests run from dist/tests). */
export const FIXTURES = join(here, '..', '..', 'tests', 'fixtures');

const tempDirs: string[] = [];
let cleanupRegistered = false;

/**
 * A new folder under the OS temp dir (named `<prefix>XXXXXX`), removed with its contents when
 * the test process exits, so that test runs do not leave folders behind.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.on('exit', () => {
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

export interface FixtureTensor {
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  data: (number | 'inf' | '-inf')[];
}

export interface FixtureDoc<C> {
  format: string;
  generator: string;
  versions: Record<string, string>;
  cases: C[];
}

export function loadFixture<C>(name: string): FixtureDoc<C> {
  const doc = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as FixtureDoc<C>;
  assert.equal(doc.format, 'attn-fixture/1', `${name}: unknown fixture format ${doc.format}`);
  return doc;
}

export function decodeValues(data: FixtureTensor['data']): number[] {
  return data.map((v) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v));
}

/**
 * A fixture tensor allocated by the active backend (for the wasm backend: in wasm memory), so
 * that the backend's own kernels, not a staging fallback, see the reference inputs.
 */
export function fixtureTensor(f: FixtureTensor, dtype?: DType): Tensor {
  const d = dtype ?? f.dtype;
  const t = zeros(f.shape, { dtype: d });
  t.storage.data.set(decodeValues(f.data));
  return t;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Asserts |a - e| <= atol + rtol * |e| elementwise (NaN matches NaN, inf matches inf). */
export function assertClose(actual: Tensor | ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string, shape?: readonly number[]): void {
  if ('shape' in actual && shape) assert.deepEqual([...actual.shape], [...shape], `${what}: shape`);
  const a = 'toTypedArray' in actual ? actual.toTypedArray() : actual;
  assert.equal(a.length, expected.length, `${what}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) ? Number.isNaN(x) : x === e) continue;
    const excess = Math.abs(x - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${what}: element ${worst} is ${a[worst]}, expected ${expected[worst]} (atol ${tol.atol}, rtol ${tol.rtol})`);
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
