/** Neural-network building blocks. */
export * from './module.js';
export * from './layers.js';
