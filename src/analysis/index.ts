/** Analysis tools: calculators (parameters, KV-cache bytes), traces of named intermediates. */
export * from './calc.js';
export * from './trace.js';
export * from './line-chart.js';
