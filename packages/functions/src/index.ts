export { v, argsValidator } from './validators.js';
export type { Validator, ArgsShape, Infer, InferArgs } from './validators.js';
export { query, mutation, action, FunctionError, isFunctionError, isFunctionDefinition } from './define.js';
export type {
  FunctionKind,
  FunctionDefinition,
  FunctionSpec,
  DbFunctionSpec,
  FunctionAuth,
  Row,
  Filter,
  DbReader,
  DbWriter,
  BaseCtx,
  QueryCtx,
  MutationCtx,
  ActionCtx,
  CtxOf,
} from './define.js';
