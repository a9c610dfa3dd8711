import { evaluateFilter } from '@mast/schema';
import { describe, expect, it } from 'vitest';
import { checkPolicy, compileToFilter, entityScope, evaluatePolicy, parsePolicy } from '../src/index.js';
import { policyTestSchema } from './fixtures.js';
import { policyFuzzer } from './policy-fuzzer.js';

const todo = policyTestSchema().entitiesByName.get('Todo')!;

describe('random rules: in-memory evaluation agrees with the compiled filter', () => {
  for (const seed of [11, 12, 13, 14]) {
    it(`seed ${seed}`, () => {
      const fuzz = policyFuzzer(seed);
      const rows = Array.from({ length: 30 }, (_, i) => fuzz.row(`r${i}`));
      let discriminating = 0;
      for (let i = 0; i < 300; i++) {
        const source = fuzz.expression();
        const expr = checkPolicy(parsePolicy(source), entityScope(todo, 'read'), source);
        const auth = fuzz.auth();
        const filter = compileToFilter(expr, auth);
        const memory = rows.filter((row) => evaluatePolicy(expr, { auth, data: row })).map((r) => r.id);
        const viaFilter = rows.filter((row) => (typeof filter === 'boolean' ? filter : evaluateFilter(filter, row))).map((r) => r.id);
        expect(viaFilter, `seed ${seed}: ${source} as ${JSON.stringify(auth)}`).toEqual(memory);
        if (memory.length > 0 && memory.length < rows.length) discriminating++;
      }
      expect(discriminating).toBeGreaterThan(100);
    });
  }
});
