import { checkJsonLimits, DEFAULT_JSON_LIMITS, type JsonLimits } from '@mast/protocol';
import type { EntitySchema, FieldSchema } from '@mast/schema';
import { type AppError, entityErrors, errors } from '../errors/index.js';
import type { CompareOp, FilterNode, FilterValue, FindQuery, OrderTerm } from '../store/index.js';
import { coerceValue, requireField } from './value-codec.js';

/** Limits the parser enforces. */
export interface FilterLimits {
  readonly maxLimit: number;
  readonly defaultLimit: number;
  /** Most conditions and `$and`/`$or`/`$not` nodes in one filter; DEFAULT_FILTER_MAX_TERMS when absent. */
  readonly maxTerms?: number;
  /** Depth and size bounds of the filter's JSON; the protocol's defaults when absent. */
  readonly jsonLimits?: JsonLimits;
}

/**
 * Most terms of a filter unless configured: each term adds a level or more to SQLite's
 * expression tree (`a OR b OR c` nests left), and SQLite refuses trees deeper than 1000.
 */
export const DEFAULT_FILTER_MAX_TERMS = 256;

const COMPARE_OPS: Record<string, CompareOp> = {
  $eq: 'eq',
  $ne: 'ne',
  $not: 'ne', // Pylon's spelling of "not equal"
  $gt: 'gt',
  $gte: 'gte',
  $lt: 'lt',
  $lte: 'lte',
};
const FIELD_OPS = new Set([...Object.keys(COMPARE_OPS), '$in', '$nin', '$like', '$ilike', '$exists']);
const MAX_DEPTH = 16;
const MAX_IN_VALUES = 1000;

function invalid(message: string, field?: string): AppError {
  return entityErrors.invalidFilter(message, field);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The field a filter key names; `id` is a string field that is never null. */
function fieldFor(entity: EntitySchema, name: string): FieldSchema {
  if (name === 'id') return { name: 'id', kind: 'string', optional: false, unique: true };
  return requireField(entity, name);
}

function operand(entity: EntitySchema, field: FieldSchema, value: unknown, limits: JsonLimits): FilterValue {
  if (value === null) return null;
  return coerceValue(entity, field, value, limits) as FilterValue;
}

/** Counts the nodes a filter produces and refuses the one past the limit. */
class TermBudget {
  #left: number;
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
    this.#left = max;
  }
  spend(count = 1): void {
    this.#left -= count;
    if (this.#left < 0) throw invalid(`A filter may have at most ${this.#max} conditions and $and/$or/$not operators`);
  }
}

function parseFieldCondition(entity: EntitySchema, field: FieldSchema, cond: unknown, budget: TermBudget, limits: JsonLimits): FilterNode {
  const isOperatorObject = isPlainObject(cond) && Object.keys(cond).length > 0 && Object.keys(cond).every((k) => k.startsWith('$'));
  if (!isOperatorObject) {
    if (isPlainObject(cond) && field.kind !== 'json') {
      throw invalid(`${entity.name}.${field.name}: expected a value or an operator object like {"$gt": 1}`, field.name);
    }
    budget.spend();
    return { kind: 'compare', field: field.name, op: 'eq', value: operand(entity, field, cond, limits) };
  }
  const nodes: FilterNode[] = [];
  for (const [op, arg] of Object.entries(cond)) {
    budget.spend();
    if (!FIELD_OPS.has(op)) {
      throw invalid(`Unknown operator "${op}" on ${entity.name}.${field.name} (valid: ${[...FIELD_OPS].join(', ')})`, field.name);
    }
    const compareOp = COMPARE_OPS[op];
    if (compareOp && field.kind === 'json' && compareOp !== 'eq' && compareOp !== 'ne') {
      // SQL would order json by its text and memory by value: refuse rather than disagree.
      throw invalid(`${op} does not apply to json field ${entity.name}.${field.name} (use $eq, $ne, $in or $exists)`, field.name);
    }
    if (compareOp) {
      if (arg === null && compareOp !== 'eq' && compareOp !== 'ne') {
        throw invalid(`${op} on ${entity.name}.${field.name} needs a value, not null`, field.name);
      }
      nodes.push({ kind: 'compare', field: field.name, op: compareOp, value: operand(entity, field, arg, limits) });
    } else if (op === '$in' || op === '$nin') {
      if (!Array.isArray(arg)) throw invalid(`${op} on ${entity.name}.${field.name} needs an array`, field.name);
      if (arg.length > MAX_IN_VALUES) throw invalid(`${op} takes at most ${MAX_IN_VALUES} values`, field.name);
      const values = arg.map((v) => {
        if (v === null) throw invalid(`${op} on ${entity.name}.${field.name} cannot contain null (use $exists)`, field.name);
        return operand(entity, field, v, limits);
      });
      nodes.push({ kind: 'in', field: field.name, values, negate: op === '$nin' });
    } else if (op === '$like' || op === '$ilike') {
      if (typeof arg !== 'string') throw invalid(`${op} on ${entity.name}.${field.name} needs a string pattern`, field.name);
      if (!['string', 'richtext', 'id', 'datetime'].includes(field.kind)) {
        throw invalid(`${op} works on text fields; ${entity.name}.${field.name} is ${field.kind}`, field.name);
      }
      // A pattern without wildcards is a substring match, as in Pylon.
      const pattern = /[%_]/.test(arg) ? arg : `%${arg.replace(/\\/g, '\\\\')}%`;
      nodes.push({ kind: 'like', field: field.name, pattern, caseInsensitive: op === '$ilike' });
    } else {
      if (typeof arg !== 'boolean') throw invalid(`$exists on ${entity.name}.${field.name} needs true or false`, field.name);
      nodes.push({ kind: 'exists', field: field.name, exists: arg });
    }
  }
  return nodes.length === 1 ? nodes[0]! : { kind: 'and', items: nodes };
}

function parseWhere(entity: EntitySchema, filter: Record<string, unknown>, depth: number, budget: TermBudget, limits: JsonLimits): FilterNode {
  if (depth > MAX_DEPTH) throw invalid(`Filters nest at most ${MAX_DEPTH} levels`);
  const items: FilterNode[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value)) throw invalid(`${key} needs an array of filters`);
      budget.spend();
      const parts = value.map((part) => {
        if (!isPlainObject(part)) throw invalid(`Each entry of ${key} must be a filter object`);
        return parseWhere(entity, part, depth + 1, budget, limits);
      });
      items.push({ kind: key === '$and' ? 'and' : 'or', items: parts });
    } else if (key === '$not') {
      if (!isPlainObject(value)) throw invalid('$not needs a filter object');
      budget.spend();
      items.push({ kind: 'not', item: parseWhere(entity, value, depth + 1, budget, limits) });
    } else if (key.startsWith('$')) {
      throw invalid(`Unknown filter key "${key}" (valid: $and, $or, $not, $order, $limit, $offset)`);
    } else {
      items.push(parseFieldCondition(entity, fieldFor(entity, key), value, budget, limits));
    }
  }
  return items.length === 1 ? items[0]! : { kind: 'and', items };
}

function parseOrder(entity: EntitySchema, order: unknown): OrderTerm[] {
  const entries: Array<[string, unknown]> = Array.isArray(order)
    ? order.map((term) => {
        if (!isPlainObject(term) || typeof term.field !== 'string') throw invalid('$order entries look like {"field":"x","direction":"asc"}');
        return [term.field, term.direction ?? 'asc'];
      })
    : isPlainObject(order)
      ? Object.entries(order)
      : (() => {
          throw invalid('$order must be an object like {"createdAt":"desc"}');
        })();
  return entries.map(([name, dir]) => {
    if (fieldFor(entity, name).kind === 'json') throw invalid(`cannot order by json field ${entity.name}.${name}`, name);
    if (typeof dir !== 'string' || !/^(asc|desc)$/i.test(dir)) throw invalid(`$order direction for "${name}" must be "asc" or "desc"`, name);
    return { field: name, direction: dir.toLowerCase() as 'asc' | 'desc' };
  });
}

/** Parses a non-negative integer query parameter or body value, or throws naming it. */
export function parseCount(name: string, value: unknown, max?: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalid(`${name} must be a non-negative integer`);
  if (max !== undefined && n > max) throw entityErrors.overMaximum(name, n, max);
  return n;
}

/**
 * Parses Pylon's filter object (`{"done": false, "title": {"$like": "x"}, "$order": {...},
 * "$limit": 10}`), extended with `$ne $nin $ilike $exists $and $or $not`, into a FindQuery
 * checked against the entity's fields and types. A filter past `limits.maxTerms` terms is
 * INVALID_QUERY and one past the JSON bounds JSON_TOO_DEEP, before any SQL is built.
 */
export function parseFilter(entity: EntitySchema, body: unknown, limits: FilterLimits): FindQuery {
  if (body === undefined || body === null) return { limit: limits.defaultLimit };
  if (!isPlainObject(body)) throw invalid('The filter must be a JSON object');
  const jsonLimits = limits.jsonLimits ?? DEFAULT_JSON_LIMITS;
  const violation = checkJsonLimits(body, jsonLimits);
  if (violation !== null) throw errors.jsonTooDeep('The filter is refused', violation);
  const { $order, $limit, $offset, $search, ...conditions } = body;
  if ($search !== undefined) throw invalid('$search is not supported yet');
  const budget = new TermBudget(limits.maxTerms ?? DEFAULT_FILTER_MAX_TERMS);
  const where = Object.keys(conditions).length > 0 ? parseWhere(entity, conditions, 0, budget, jsonLimits) : undefined;
  const order = $order === undefined ? undefined : parseOrder(entity, $order);
  const limit = $limit === undefined ? limits.defaultLimit : parseCount('$limit', $limit, limits.maxLimit);
  const offset = $offset === undefined ? undefined : parseCount('$offset', $offset);
  return {
    ...(where ? { where } : {}),
    ...(order ? { order } : {}),
    limit,
    ...(offset !== undefined ? { offset } : {}),
  };
}
