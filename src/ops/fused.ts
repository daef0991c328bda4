/**
 * Dispatch to fused kernels. A composite op asks for its fused kernel by name; it gets one only
 * when the active backend registers it and fused kernels are enabled. `withoutFused` runs code
 * on the composed versions, which are the oracle the fused kernels are tested against.
 */
import { getBackend, type FusedKernelName, type FusedKernels } from '../tensor/index.js';

let enabled = true;

export function fusedKernel<K extends FusedKernelName>(name: K): FusedKernels[K] | undefined {
  return enabled ? getBackend().fused[name] : undefined;
}

export function withoutFused<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}
