import { checkPolicy, compileToFilter, entityScope, evaluatePolicy, parsePolicy, type PolicyAuth, type PolicyExpr } from '@mast/policy';
import { AUTHS, memoryLookup, POLICY_CASES, policyFuzzer, policyTestSchema, RELATED, ROWS } from '@mast/policy/testing';
import type { AppSchema, FilterNode } from '@mast/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPlan } from '../store/conformance/fixtures.js';
import { createSqliteStore, type SqliteStore } from '../store/sqlite/index.js';
import type { Row } from '../store/store.js';

/**
 * The policy back-ends against a real SQLite store: each rule compiled to a filter and run as
 * SQL must select exactly the rows the shared policy table expects, and the rows the in-memory
 * evaluator allows, on random rules and rows too.
 */

const schema: AppSchema = policyTestSchema();
const todo = schema.entitiesByName.get('Todo')!;

function readRule(source: string): PolicyExpr {
  return checkPolicy(parsePolicy(source), entityScope(todo, 'read', schema), source);
}

let store: SqliteStore;

beforeEach(async () => {
  store = createSqliteStore({ path: ':memory:' });
  await store.migrate(createPlan(schema), schema);
});

afterEach(async () => {
  await store.close();
});

async function insert(rows: readonly Row[], entity = 'Todo'): Promise<void> {
  await store.write(async (tx) => {
    for (const row of rows) await tx.insert(entity, row);
  });
}

async function insertRelated(related: Readonly<Record<string, ReadonlyArray<Readonly<Record<string, unknown>>>>>): Promise<void> {
  for (const [entity, rows] of Object.entries(related)) await insert(rows as readonly Row[], entity);
}

/** The ids SQL selects for a compiled rule (`true` and `false` need no query). */
async function sqlIds(filter: FilterNode | boolean, all: readonly Row[]): Promise<string[]> {
  if (filter === false) return [];
  if (filter === true) return all.map((r) => r.id).sort();
  const rows = await store.read((tx) => tx.find('Todo', { where: filter }));
  expect(await store.read((tx) => tx.count('Todo', filter))).toBe(rows.length);
  return rows.map((r) => r.id).sort();
}

describe('policy table through SQLite', () => {
  it('selects exactly the rows each case allows', async () => {
    await insert(ROWS as Row[]);
    await insertRelated(RELATED);
    const all = await store.read((tx) => tx.find('Todo', {}));
    expect(all).toHaveLength(ROWS.length);
    for (const c of POLICY_CASES) {
      const filter = compileToFilter(readRule(c.expr), AUTHS[c.auth]);
      expect(await sqlIds(filter, all), `${c.expr} as ${c.auth}`).toEqual([...c.allows].sort());
    }
  });
});

describe('random rules: SQL agrees with the in-memory evaluator', () => {
  for (const seed of [21, 22, 23]) {
    it(`seed ${seed}`, async () => {
      const fuzz = policyFuzzer(seed, { relational: true });
      await insert(Array.from({ length: 40 }, (_, i) => fuzz.row(`r${i}`) as Row));
      const related = fuzz.related();
      await insertRelated(related);
      const all = await store.read((tx) => tx.find('Todo', {}));
      const lookup = memoryLookup({ ...related, Todo: all });
      let discriminating = 0;
      let relational = 0;
      for (let i = 0; i < 200; i++) {
        const source = fuzz.expression();
        if (source.includes('exists(')) relational++;
        const expr = readRule(source);
        const auth: PolicyAuth = fuzz.auth();
        const memory = all
          .filter((row) => evaluatePolicy(expr, { auth, data: row, lookup }))
          .map((r) => r.id)
          .sort();
        const sql = await sqlIds(compileToFilter(expr, auth), all);
        expect(sql, `seed ${seed}: ${source} as ${JSON.stringify(auth)}`).toEqual(memory);
        if (memory.length > 0 && memory.length < all.length) discriminating++;
      }
      expect(discriminating).toBeGreaterThan(60);
      expect(relational).toBeGreaterThan(40);
    });
  }
});
