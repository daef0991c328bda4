/** Analysis tools: calculators (parameters, KV-cache bytes). */
export * from './calc.js';
