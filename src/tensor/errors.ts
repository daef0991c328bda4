/**
 * Errors raised by the core. Every message starts with the op's name and names the operands,
 * e.g. `matmul: [2,3] @ [4,5]: inner dimensions differ (3 vs 4)`.
 */

export class AttnError extends Error {
  constructor(readonly op: string, detail: string) {
    super(`${op}: ${detail}`);
    this.name = 'AttnError';
  }
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function fail(op: string, detail: string): never {
  throw new AttnError(op, detail);
}
