export { v, argsValidator } from './validators.js';
export type { Validator, ArgsShape, Infer, InferArgs } from './validators.js';
export type { FunctionErrorOptions } from './define.js';
export { query, mutation, action, crons, FunctionError, isFunctionError, isFunctionDefinition, isCronDefinitions } from './define.js';
export { parseCron } from './cron.js';
export type { CronExpression } from './cron.js';
export type {
  FunctionKind,
  FunctionDefinition,
  FunctionSpec,
  DbFunctionSpec,
  FunctionAuth,
  BaseCtx,
  QueryCtx,
  MutationCtx,
  ActionCtx,
  CtxOf,
  Scheduler,
  RateLimit,
  ResultStream,
  CronSpec,
  CronDefinitions,
} from './define.js';
export type { Row, Filter, DbReader, DbWriter, TableMap, Register, RegisteredTables, TablesOf, InsertOf, PatchOf } from './db-types.js';
