/** The PostgreSQL store backend. */
export { createPgStore } from './pg-store.js';
export type { PgStore, PgStoreOptions } from './pg-store.js';
