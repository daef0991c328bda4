// The subset of the WebAssembly JS API that the wasm backend uses. TypeScript declares it only in
// lib.dom / lib.webworker, which would also bring browser globals into the whole project.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: BufferSource);
    static imports(m: Module): { module: string; name: string; kind: string }[];
    static exports(m: Module): { name: string; kind: string }[];
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(delta: number): number;
  }
  function validate(bytes: BufferSource): boolean;
}
type BufferSource = ArrayBufferView | ArrayBuffer;
