export { FunctionRunner, AuthorError } from './function-runner.js';
export type { FunctionLimits, FunctionRunnerDeps, CallOptions } from './function-runner.js';
export { FunctionRegistry } from './function-registry.js';
export type { FunctionLoadError, FunctionSet, RegisteredFunction } from './function-registry.js';
export { loadFunctions, FUNCTIONS_DIR } from './function-loader.js';
export { QueryWatch, ReadSet } from './query-watch.js';
export type { WatchHandlers } from './query-watch.js';
