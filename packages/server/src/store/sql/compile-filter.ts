import type { EntitySchema, FieldKind } from '@mast/schema';
import { type AppError, storeErrors } from '../../errors/index.js';
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

/** A column; `qualifier` (a table name or alias) is written before it when given. */
function column(entity: EntitySchema, name: string, dialect: SqlDialect, qualifier?: string): Column {
  const prefix = qualifier === undefined ? '' : `${dialect.quoteIdent(qualifier)}.`;
  if (name === 'id') return { sql: `${prefix}${dialect.quoteIdent('id')}`, kind: 'string', nullable: false, name };
  const field = entity.fieldsByName.get(name);
  if (!field) throw storeErrors.noSuchColumn(entity.name, name);
  return { sql: dialect.comparable(`${prefix}${dialect.quoteIdent(name)}`, field.kind), kind: field.kind, nullable: true, name };
}

/** Finds the schema of an entity a RelatedNode names. */
export type EntityResolver = (name: string) => EntitySchema | undefined;

/** A row in scope while compiling: the filtered table (level 0) or a related subquery's. */
interface RowScope {
  readonly entity: EntitySchema;
  /** How its columns are written: the table's name at level 0, `r<level>` inside subqueries. */
  readonly qualifier: string | undefined;
}

const SQL_OP: Record<CompareOp, string> = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' };
const INVERSE: Record<CompareOp, CompareOp> = { eq: 'ne', ne: 'eq', gt: 'lte', gte: 'lt', lt: 'gte', lte: 'gt' };

/** `(col IS NULL OR cond)` for a nullable column; just `cond` for `id`. */
function orNull(col: Column, cond: string): string {
  return col.nullable ? `(${col.sql} IS NULL OR ${cond})` : cond;
}

class FilterCompiler {
  /** Rows in scope, outermost first; the last is the row the current node filters. */
  private readonly scopes: RowScope[];

  constructor(
    entity: EntitySchema,
    private readonly dialect: SqlDialect,
    private readonly params: SqlParams,
    private readonly resolve: EntityResolver | undefined,
  ) {
    this.scopes = [{ entity, qualifier: undefined }];
  }

  private get entity(): EntitySchema {
    return this.scopes[this.scopes.length - 1]!.entity;
  }

  private col(name: string): Column {
    const scope = this.scopes[this.scopes.length - 1]!;
    return column(scope.entity, name, this.dialect, scope.qualifier);
  }

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
      case 'related':
        return this.related(node.entity, node.where, negated);
      case 'link':
        return this.link(node.field, node.outer, node.up, negated);
      case 'exists': {
        const col = this.col(node.field);
        return node.exists !== negated ? `${col.sql} IS NOT NULL` : `${col.sql} IS NULL`;
      }
      case 'compare':
        return this.compare(node.field, node.op, node.value, negated);
      case 'in': {
        const col = this.col(node.field);
        const values = node.values.filter((v) => v !== null);
        const isIn = node.negate === negated;
        if (values.length === 0) return isIn ? FALSE : TRUE;
        const list = values.map((v) => this.bind(col, v)).join(', ');
        return isIn ? `${col.sql} IN (${list})` : orNull(col, `${col.sql} NOT IN (${list})`);
      }
      case 'like': {
        const col = this.col(node.field);
        if (col.kind === 'int' || col.kind === 'float' || col.kind === 'bool') {
          throw storeErrors.likeNeedsText(this.entity.name, col.name, col.kind);
        }
        if (typeof node.pattern !== 'string') throw storeErrors.likePatternNotString();
        const sql = this.dialect.like(col.sql, parseLike(node.pattern), node.caseInsensitive, (v) => this.params.add(v));
        return negated ? orNull(col, `NOT (${sql})`) : sql;
      }
    }
  }

  /**
   * `[NOT] EXISTS (SELECT 1 FROM "E" AS "r<n>" WHERE …)`: EXISTS is never NULL, so its NOT is
   * exact. The top-level table keeps its name (the callers write `FROM "E"` unaliased), so a
   * link to it is written `"E"."f"`; inside a subquery the alias hides the table's own name.
   */
  private related(entityName: string, where: FilterNode, negated: boolean): string {
    const entity = this.resolve?.(entityName);
    if (!entity) throw storeErrors.unknownRelatedEntity(entityName);
    if (this.scopes.length === 1) this.scopes[0] = { entity: this.scopes[0]!.entity, qualifier: this.scopes[0]!.entity.name };
    const alias = `r${this.scopes.length}`;
    this.scopes.push({ entity, qualifier: alias });
    try {
      const inner = this.compile(where, false);
      return `${negated ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${this.dialect.quoteIdent(entity.name)} AS ${this.dialect.quoteIdent(alias)} WHERE ${inner})`;
    } finally {
      this.scopes.pop();
    }
  }

  /** `inner = outer` (both non-null); negated: either is NULL or they differ. */
  private link(field: string, outerField: string, up: number, negated: boolean): string {
    const level = this.scopes.length - 1 - up;
    if (!Number.isSafeInteger(up) || up < 1 || level < 0) throw new Error(`link to a row ${up} levels out, with ${this.scopes.length - 1} in scope`);
    const inner = this.col(field);
    const scope = this.scopes[level]!;
    const outer = column(scope.entity, outerField, this.dialect, scope.qualifier);
    if (!negated) return `${inner.sql} = ${outer.sql}`;
    return `(${inner.sql} IS NULL OR ${outer.sql} IS NULL OR ${inner.sql} <> ${outer.sql})`;
  }

  private compare(field: string, op: CompareOp, value: FilterValue, negated: boolean): string {
    const col = this.col(field);
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
 * fields throw AppError INVALID_COLUMN. RelatedNodes need `resolve` for the entities they name
 * and make the expression refer to the filtered table by its name (`"E"."f"`), so the caller's
 * `FROM` must not alias it.
 */
export function compileFilter(node: FilterNode, entity: EntitySchema, dialect: SqlDialect, params: SqlParams, resolve?: EntityResolver): string {
  return new FilterCompiler(entity, dialect, params, resolve).compile(node, false);
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
    throw storeErrors.notNonNegativeInteger(name);
  }
}

/**
 * Compiles a FindQuery. Ascending order puts NULLs first and descending puts them last (NULL
 * sorts as the smallest value) on every backend; `id asc` is appended unless `id` is ordered.
 */
export function compileFind(query: FindQuery, entity: EntitySchema, dialect: SqlDialect, params: SqlParams, resolve?: EntityResolver): CompiledFind {
  const where = query.where ? ` WHERE ${compileFilter(query.where, entity, dialect, params, resolve)}` : '';
  const terms: string[] = [];
  for (const term of totalOrder(query.order)) {
    const col = column(entity, term.field, dialect);
    if (term.direction !== 'asc' && term.direction !== 'desc') {
      throw storeErrors.badOrderDirection(term.field);
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
