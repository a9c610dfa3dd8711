import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '@mast/protocol';
import { resolveSchema } from '@mast/schema';
import { AppError } from '../errors/index.js';
import { parseFilter } from './filter-parser.js';

// A fixed seed in `npm test`; MAST_FUZZ_RUNS=100000 (and MAST_FUZZ_SEED) for a longer run.
const runs = Number(process.env.MAST_FUZZ_RUNS ?? 300);
const seed = Number(process.env.MAST_FUZZ_SEED ?? 12);
/** A longer run takes longer: about 10 ms a run is allowed, at least vitest's default. */
const timeout = Math.max(20_000, runs * 10);

const schema = resolveSchema({
  manifest_version: 1,
  name: 't',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Todo',
      indexes: [],
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'done', type: 'bool', optional: false, unique: false },
        { name: 'n', type: 'int', optional: true, unique: false },
        { name: 'at', type: 'datetime', optional: true, unique: false },
        { name: 'meta', type: 'json', optional: true, unique: false },
      ],
    },
  ],
});
const todo = schema.entitiesByName.get('Todo')!;
const limits = { maxLimit: 1000, defaultLimit: 100, maxTerms: 256 };

const KEYS = ['title', 'done', 'n', 'at', 'meta', 'id', 'nope', '$and', '$or', '$not', '$order', '$limit', '$offset', '$search', '$bad'];
const OPS = ['$eq', '$ne', '$not', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$like', '$ilike', '$exists', '$regex'];
const scalar = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('2024-01-01', '2024-02-30', 'asc', 'DESC', '%', '_'),
);

/** Filters near the language: known keys and operators, values of every type, nested. */
const { filter } = fc.letrec<{ filter: Record<string, unknown>; value: unknown }>((tie) => ({
  filter: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 4 }),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.dictionary(fc.constantFrom(...OPS), fc.oneof(scalar, fc.array(scalar, { maxLength: 4 })), { maxKeys: 3 }),
    fc.array(tie('filter'), { maxLength: 4 }),
    tie('filter'),
    fc.jsonValue({ maxDepth: 3 }),
  ),
}));

/** Every filter parses, or is refused with a 4xx AppError; nothing else escapes. */
function answered(body: unknown): void {
  try {
    const query = parseFilter(todo, body, limits);
    expect(query.limit).toBeLessThanOrEqual(limits.maxLimit);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(errorCatalogue[error.code].status).toBeLessThan(500);
  }
}

describe('parseFilter (fuzzed)', { timeout }, () => {
  it('answers filters near the language with a query or a 4xx error', () => {
    fc.assert(fc.property(filter, answered), { numRuns: runs * 3, seed });
  });

  it('answers any JSON value with a query or a 4xx error', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), answered), { numRuns: runs, seed });
  });

  it('refuses wide and deep filters by their bounds, never by a stack overflow', () => {
    const wide = fc
      .record({ op: fc.constantFrom('$or', '$and'), n: fc.integer({ min: 1, max: 5_000 }) })
      .map(({ op, n }) => ({ [op]: Array.from({ length: n }, (_, i) => ({ n: i })) }));
    const deep = fc.integer({ min: 1, max: 10_000 }).map((d) => {
      let f: Record<string, unknown> = { done: true };
      for (let i = 0; i < d; i++) f = { $not: f };
      return f;
    });
    fc.assert(fc.property(fc.oneof(wide, deep), answered), { numRuns: Math.max(20, runs / 10), seed });
  });
});
