export type * from './manifest-types.js';
export type * from './app-schema.js';
export type * from './migration-plan.js';
export { resolveSchema, parseFieldType } from './resolve-schema.js';
