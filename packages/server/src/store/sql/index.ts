/** Dialect-neutral SQL compilation and row encoding shared by the SQL store backends. */
export { SqlParams } from './sql-dialect.js';
export type { SqlDialect, CellCodec } from './sql-dialect.js';
export { compileFilter, compileFind } from './compile-filter.js';
export type { CompiledFind, EntityResolver } from './compile-filter.js';
export { renderGlob } from './like-pattern.js';
export { encodeCell, decodeCell, decodeRow, encodeFields } from './row-codec.js';
export { uniqueViolation } from './unique-violation.js';
export { convertValue } from './convert-value.js';
