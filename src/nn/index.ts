/** Neural-network building blocks. */
export * from './module.js';
export * from './layers.js';
export * from './dropout.js';
export * from './rope.js';
export * from './attention.js';
export * from './module-list.js';
export * from './alibi.js';
export * from './named.js';
export * from './kv-cache.js';
export * from './padding.js';
export * from './quantize.js';
