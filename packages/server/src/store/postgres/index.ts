/** The PostgreSQL store backend. */
export { createPgStore } from './pg-store.js';
export type { PgStore, PgStoreOptions } from './pg-store.js';
export { PgChangeFeed, changeChannel } from './pg-change-feed.js';
export type { ChangeFeedOptions } from './pg-change-feed.js';
