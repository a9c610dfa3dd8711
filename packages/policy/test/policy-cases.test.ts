import { evaluateFilter } from '@mast/schema';
import { describe, expect, it } from 'vitest';
import { checkPolicy, compileToFilter, entityScope, evaluatePolicy, parsePolicy, type PolicyExpr } from '../src/index.js';
import { memoryLookup, policyTestSchema, RELATED, ROWS } from './fixtures.js';
import { expandPolicyCases, POLICY_CASES } from './policy-cases.js';

const schema = policyTestSchema();
const todo = schema.entitiesByName.get('Todo')!;
const lookup = memoryLookup({ ...RELATED, Todo: ROWS });

/** Parses and checks a read rule on Todo. */
export function readRule(source: string): PolicyExpr {
  return checkPolicy(parsePolicy(source), entityScope(todo, 'read', schema), source);
}

describe('policy table: in memory and as a filter', () => {
  it('has cases that allow some rows and deny others', () => {
    const partial = POLICY_CASES.filter((c) => c.allows.length > 0 && c.allows.length < 5);
    expect(partial.length).toBeGreaterThan(40);
    expect(POLICY_CASES.filter((c) => c.expr.includes('exists(') && c.allows.length > 0 && c.allows.length < 5).length).toBeGreaterThan(12);
  });

  for (const c of expandPolicyCases()) {
    it(`${c.expr} | ${c.authName} | ${c.row.id} → ${c.expected}`, () => {
      const expr = readRule(c.expr);
      expect(evaluatePolicy(expr, { auth: c.auth, data: c.row, lookup })).toBe(c.expected);
      const filter = compileToFilter(expr, c.auth);
      const viaFilter = typeof filter === 'boolean' ? filter : evaluateFilter(filter, c.row, lookup);
      expect(viaFilter).toBe(c.expected);
    });
  }
});
