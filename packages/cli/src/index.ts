export { parseArgs } from './args.js';
export type { ParsedArgs } from './args.js';
export { initApp } from './init-command.js';
