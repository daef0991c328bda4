/** Analysis tools: calculators (parameters, KV-cache bytes), traces of named intermediates, logit comparisons (KL, top-1, perplexity). */
export * from './calc.js';
export * from './trace.js';
export * from './line-chart.js';
export * from './logit-comparison.js';
