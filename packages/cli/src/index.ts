export { parseArgs, UsageError } from './args.js';
export type { ParsedArgs } from './args.js';
export { initApp } from './init-command.js';
export { policyCheck } from './policy-command.js';
