/** The store subsystem: the Store interface, the filter tree it compiles, and its backends. */
export type {
  Row,
  StoreCapabilities,
  ChangeRecord,
  NewChange,
  OpRecord,
  ReadTx,
  WriteTx,
  RetentionPolicy,
  ChangeLogBounds,
  Store,
  LiveTables,
  SessionRecord,
  SessionStore,
  CrdtRecord,
  CrdtSnapshotStore,
} from './store.js';
export type {
  FilterValue,
  CompareOp,
  CompareNode,
  InNode,
  LikeNode,
  ExistsNode,
  AndNode,
  OrNode,
  NotNode,
  FilterNode,
  OrderTerm,
  FindQuery,
} from '@mast/schema';
export { createSqliteStore } from './sqlite/index.js';
export type { SqliteStore, SqliteStoreOptions } from './sqlite/index.js';
