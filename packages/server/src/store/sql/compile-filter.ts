import type { EntitySchema, FieldKind } from '@mast/schema';
import { AppError } from '../../errors/index.js';
import type { CompareOp, FilterNode, FilterValue, FindQuery } from '@mast/schema';
import { parseLike, totalOrder } from '@mast/schema';
import { encodeCell } from './row-codec.js';
import type { SqlDialect, SqlParams } from './sql-dialect.js';

/**
 * FilterNode / FindQuery → SQL text with bound parameters. Values are only ever bound; the only
 * identifiers written into the text are the entity's declared fields and `id`.
 *
 * Null semantics are two-valued: every filter is true or false for every row, and `not x` is
 * exactly the rows where `x` is false. So a NULL cell is "not equal" to any value (`ne v` and
 * `not eq v` match it), is never `gt`/`lt` anything, never matches `in` or `like`, and matches
 * `nin` and `not like`. `eq null` / `ne null` are IS NULL / IS NOT NULL; `gt null` (and the other
 * orderings against null) is false. NOT is pushed down to the leaves instead of wrapping SQL's
 * three-valued NOT, so plain `col = ?` stays index-friendly.
 *
 * json fields compare by their JSON text as `JSON.stringify` writes it (key order matters);
 * datetimes compare as ISO text, so callers normalise them to one format; strings compare
 * by the database's binary (code point) order.
 */

const TRUE = '(1=1)';
const FALSE = '(1=0)';

interface Column {
  readonly sql: string;
  readonly kind: FieldKind;
  readonly nullable: boolean;
  readonly name: string;
}

function column(entity: EntitySchema, name: string, dialect: SqlDialect): Column {
  if (name === 'id') return { sql: dialect.quoteIdent('id'), kind: 'string', nullable: false, name };
  const field = entity.fieldsByName.get(name);
  if (!field) throw new AppError('INVALID_COLUMN', `${entity.name} has no field "${name}"`, { fields: [name] });
  return { sql: dialect.quoteIdent(name), kind: field.kind, nullable: true, name };
}

const SQL_OP: Record<CompareOp, string> = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' };
const INVERSE: Record<CompareOp, CompareOp> = { eq: 'ne', ne: 'eq', gt: 'lte', gte: 'lt', lt: 'gte', lte: 'gt' };

/** `(col IS NULL OR cond)` for a nullable column; just `cond` for `id`. */
function orNull(col: Column, cond: string): string {
  return col.nullable ? `(${col.sql} IS NULL OR ${cond})` : cond;
}

class FilterCompiler {
  constructor(
    private readonly entity: EntitySchema,
    private readonly dialect: SqlDialect,
    private readonly params: SqlParams,
  ) {}

  private bind(col: Column, value: FilterValue): string {
    return this.params.add(encodeCell(this.dialect.cells, col.kind, value, { entity: this.entity.name, field: col.name }));
  }

  compile(node: FilterNode, negated: boolean): string {
    switch (node.kind) {
      case 'and':
      case 'or': {
        // De Morgan: under negation, and ↔ or, and each item is negated.
        const isAnd = (node.kind === 'and') !== negated;
        if (node.items.length === 0) return isAnd ? TRUE : FALSE;
        const parts = node.items.map((item) => this.compile(item, negated));
        return parts.length === 1 ? parts[0]! : `(${parts.join(isAnd ? ' AND ' : ' OR ')})`;
      }
      case 'not':
        return this.compile(node.item, !negated);
      case 'exists': {
        const col = column(this.entity, node.field, this.dialect);
        return node.exists !== negated ? `${col.sql} IS NOT NULL` : `${col.sql} IS NULL`;
      }
      case 'compare':
        return this.compare(node.field, node.op, node.value, negated);
      case 'in': {
        const col = column(this.entity, node.field, this.dialect);
        const values = node.values.filter((v) => v !== null);
        const isIn = node.negate === negated;
        if (values.length === 0) return isIn ? FALSE : TRUE;
        const list = values.map((v) => this.bind(col, v)).join(', ');
        return isIn ? `${col.sql} IN (${list})` : orNull(col, `${col.sql} NOT IN (${list})`);
      }
      case 'like': {
        const col = column(this.entity, node.field, this.dialect);
        if (col.kind === 'int' || col.kind === 'float' || col.kind === 'bool') {
          throw new AppError('INVALID_QUERY', `like needs a text field; ${this.entity.name}.${col.name} is ${col.kind}`, { fields: [col.name] });
        }
        if (typeof node.pattern !== 'string') throw new AppError('INVALID_QUERY', 'a like pattern must be a string');
        const sql = this.dialect.like(col.sql, parseLike(node.pattern), node.caseInsensitive, (v) => this.params.add(v));
        return negated ? orNull(col, `NOT (${sql})`) : sql;
      }
    }
  }

  private compare(field: string, op: CompareOp, value: FilterValue, negated: boolean): string {
    const col = column(this.entity, field, this.dialect);
    const effective = negated ? INVERSE[op] : op;
    if (value === null) {
      if (effective === 'eq') return `${col.sql} IS NULL`;
      if (effective === 'ne') return `${col.sql} IS NOT NULL`;
      // Nothing is ordered against null, so `gt null` is false and `not gt null` is true.
      return negated ? TRUE : FALSE;
    }
    const cond = `${col.sql} ${SQL_OP[effective]} ${this.bind(col, value)}`;
    // SQL's own comparison is false-ish on NULL, which is right for positive eq/gt/...; `ne` and
    // the orderings that negation produced must hold on NULL, so they get an IS NULL arm.
    if (effective === 'ne' || (negated && effective !== 'eq')) return orNull(col, cond);
    return cond;
  }
}

/**
 * Compiles a filter to a boolean SQL expression, binding its values into `params`; unknown
 * fields throw AppError INVALID_COLUMN.
 */
export function compileFilter(node: FilterNode, entity: EntitySchema, dialect: SqlDialect, params: SqlParams): string {
  return new FilterCompiler(entity, dialect, params).compile(node, false);
}

/** The clauses that follow `SELECT ... FROM table` for a find: WHERE, ORDER BY, LIMIT/OFFSET. */
export interface CompiledFind {
  /** `' WHERE ...'` or `''`. */
  readonly where: string;
  /** `' ORDER BY ...'`, always ending with `id` so the order is total. */
  readonly orderBy: string;
  /** `' LIMIT ? OFFSET ?'`, `' LIMIT ?'` or `''`. */
  readonly limit: string;
  /** All three, in order. */
  readonly sql: string;
}

function checkCount(name: 'limit' | 'offset', value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AppError('INVALID_QUERY', `${name} must be a non-negative integer`);
  }
}

/**
 * Compiles a FindQuery. Ascending order puts NULLs first and descending puts them last (NULL
 * sorts as the smallest value) on every backend; `id asc` is appended unless `id` is ordered.
 */
export function compileFind(query: FindQuery, entity: EntitySchema, dialect: SqlDialect, params: SqlParams): CompiledFind {
  const where = query.where ? ` WHERE ${compileFilter(query.where, entity, dialect, params)}` : '';
  const terms: string[] = [];
  for (const term of totalOrder(query.order)) {
    const col = column(entity, term.field, dialect);
    if (term.direction !== 'asc' && term.direction !== 'desc') {
      throw new AppError('INVALID_QUERY', `order direction must be asc or desc`, { fields: [term.field] });
    }
    const nulls = col.nullable && !dialect.nullsSortLow ? (term.direction === 'asc' ? ' NULLS FIRST' : ' NULLS LAST') : '';
    terms.push(`${col.sql} ${term.direction.toUpperCase()}${nulls}`);
  }
  const orderBy = ` ORDER BY ${terms.join(', ')}`;
  let limit = '';
  if (query.limit !== undefined) {
    checkCount('limit', query.limit);
    limit = ` LIMIT ${params.add(query.limit)}`;
  }
  if (query.offset !== undefined) {
    checkCount('offset', query.offset);
    limit = `${limit || ` LIMIT ${dialect.unlimited}`} OFFSET ${params.add(query.offset)}`;
  }
  return { where, orderBy, limit, sql: where + orderBy + limit };
}

/**
 * The columns a declared index is built on: a non-unique index gets `id` appended, so that it
 * also orders rows the way `compileFind`'s id tie-break does and the planner can skip sorting.
 * Unique indexes keep their columns (appending `id` would make every row unique).
 */
export function sqlIndexColumns(index: { readonly fields: readonly string[]; readonly unique: boolean }): string[] {
  return index.unique || index.fields.includes('id') ? [...index.fields] : [...index.fields, 'id'];
}
