export { MastServer, MigrationRefusedError, migrateStore, MAST_VERSION } from './app/mast-server.js';
export type { MastServerOptions } from './app/mast-server.js';
export { openStore, defaultDatabasePath } from './app/open-store.js';
export { loadConfig, optionsHelp, parseOptionValue, OPTIONS } from './config/index.js';
export type { MastConfig, OptionSpec } from './config/index.js';
export { AppError } from './errors/index.js';
export type { Store, Row, ReadTx, WriteTx, ChangeRecord } from './store/index.js';
export { createSqliteStore } from './store/index.js';
