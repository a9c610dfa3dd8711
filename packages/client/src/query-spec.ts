import type { CompareOp, FilterNode, OrderTerm } from '@mast/schema/memory';
import { MastClientError } from './errors.js';

/** A live query's filter object as the server takes it: field conditions, `$order`, `$limit`. */
export type Filter = Record<string, unknown>;

/** A filter read for in-memory use: the condition tree, the order and the limit. */
export interface QuerySpec {
  readonly where: FilterNode | undefined;
  readonly order: readonly OrderTerm[] | undefined;
  readonly limit: number | undefined;
}

const COMPARE: Record<string, CompareOp> = { $eq: 'eq', $ne: 'ne', $not: 'ne', $gt: 'gt', $gte: 'gte', $lt: 'lt', $lte: 'lte' };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): MastClientError {
  return new MastClientError('INVALID_QUERY', message);
}

function fieldCondition(field: string, cond: unknown): FilterNode {
  const isOps = isPlainObject(cond) && Object.keys(cond).length > 0 && Object.keys(cond).every((k) => k.startsWith('$'));
  if (!isOps) return { kind: 'compare', field, op: 'eq', value: cond as never };
  const nodes: FilterNode[] = [];
  for (const [op, arg] of Object.entries(cond)) {
    const compare = COMPARE[op];
    if (compare) nodes.push({ kind: 'compare', field, op: compare, value: arg as never });
    else if (op === '$in' || op === '$nin') {
      if (!Array.isArray(arg)) throw invalid(`${op} on ${field} needs an array`);
      nodes.push({ kind: 'in', field, values: arg as never[], negate: op === '$nin' });
    } else if (op === '$like' || op === '$ilike') {
      if (typeof arg !== 'string') throw invalid(`${op} on ${field} needs a string pattern`);
      // As on the server: a pattern without wildcards is a substring match.
      const pattern = /[%_]/.test(arg) ? arg : `%${arg.replace(/\\/g, '\\\\')}%`;
      nodes.push({ kind: 'like', field, pattern, caseInsensitive: op === '$ilike' });
    } else if (op === '$exists') {
      if (typeof arg !== 'boolean') throw invalid(`$exists on ${field} needs true or false`);
      nodes.push({ kind: 'exists', field, exists: arg });
    } else throw invalid(`Unknown operator "${op}" on ${field}`);
  }
  return nodes.length === 1 ? nodes[0]! : { kind: 'and', items: nodes };
}

function where(filter: Record<string, unknown>): FilterNode {
  const items: FilterNode[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value)) throw invalid(`${key} needs an array of filters`);
      items.push({ kind: key === '$and' ? 'and' : 'or', items: value.map((part) => (isPlainObject(part) ? where(part) : fail(`Each entry of ${key} must be a filter object`))) });
    } else if (key === '$not') {
      if (!isPlainObject(value)) throw invalid('$not needs a filter object');
      items.push({ kind: 'not', item: where(value) });
    } else if (key.startsWith('$')) throw invalid(`Unknown filter key "${key}"`);
    else items.push(fieldCondition(key, value));
  }
  return items.length === 1 ? items[0]! : { kind: 'and', items };
}

function fail(message: string): never {
  throw invalid(message);
}

/**
 * Reads a filter object without the schema: values are compared as given (rows in the cache are
 * JSON values as the server sends them). The server stays the judge of validity; this only
 * decides which optimistic rows a query shows, and where.
 */
export function querySpec(filter: Filter | undefined): QuerySpec {
  if (filter === undefined) return { where: undefined, order: undefined, limit: undefined };
  if (!isPlainObject(filter)) throw invalid('The filter must be an object');
  const { $order, $limit, $offset, ...conditions } = filter;
  if ($offset !== undefined) throw invalid('Live queries take no $offset; page with $order, $limit and loadMore()');
  if ($limit !== undefined && (typeof $limit !== 'number' || !Number.isSafeInteger($limit) || $limit < 0)) throw invalid('$limit must be a non-negative integer');
  let order: OrderTerm[] | undefined;
  if ($order !== undefined) {
    const entries: Array<[string, unknown]> = Array.isArray($order)
      ? $order.map((t: unknown) =>
          isPlainObject(t) && typeof t.field === 'string' ? [t.field, t.direction ?? 'asc'] : fail('$order entries look like {"field":"x","direction":"asc"}'),
        )
      : isPlainObject($order)
        ? Object.entries($order)
        : fail('$order must be an object like {"createdAt":"desc"}');
    order = entries.map(([field, dir]) => {
      if (typeof dir !== 'string' || !/^(asc|desc)$/i.test(dir)) throw invalid(`$order direction for "${field}" must be "asc" or "desc"`);
      return { field, direction: dir.toLowerCase() as 'asc' | 'desc' };
    });
  }
  return { where: Object.keys(conditions).length > 0 ? where(conditions) : undefined, order, limit: $limit as number | undefined };
}

/** A stable text of a JSON value (object keys sorted), to tell identical queries apart. */
export function stableKey(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableKey).join(',')}]`;
  if (isPlainObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableKey(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/** The key under which identical live queries are shared: entity plus the filter's stable text. */
export function queryKey(entity: string, filter: Filter | undefined): string {
  return `${entity}\u0000${stableKey(filter ?? {})}`;
}
