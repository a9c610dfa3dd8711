export { MastCore, createCore } from './core.js';
export type { CoreOptions } from './core.js';
export { systemClock } from '../clock/clock.js';
export type { Clock } from '../clock/clock.js';
export { MigrationRefusedError, migrateStore } from './migrate.js';
