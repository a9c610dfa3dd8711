import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPolicy, compilePolicies, entityScope, parsePolicy, PolicyError, type PolicyOperation } from '../src/index.js';
import { policyTestManifest, policyTestSchema } from './fixtures.js';
import { resolveSchema } from '@mast/schema';

// A fixed seed in `npm test`; MAST_FUZZ_RUNS=100000 (and MAST_FUZZ_SEED) for a longer run.
const runs = Number(process.env.MAST_FUZZ_RUNS ?? 300);
const seed = Number(process.env.MAST_FUZZ_SEED ?? 12);
/** A longer run takes longer: about 10 ms a run is allowed, at least vitest's default. */
const timeout = Math.max(20_000, runs * 10);

const todo = policyTestSchema().entitiesByName.get('Todo')!;

/** Pieces of the policy language, glued at random: mostly near-valid expressions. */
const TOKENS = [
  'auth.userId',
  'auth.roles',
  'auth.tenantId',
  'auth.isGuest',
  'data.ownerId',
  'data.title',
  'data.done',
  'data.priority',
  'data.tags',
  'input.title',
  'null',
  'true',
  'false',
  '1',
  '-2.5',
  '01',
  '"x"',
  '"a\\"b"',
  '"',
  "'",
  '==',
  '!=',
  '<',
  '>=',
  '&&',
  '||',
  '!',
  '(',
  ')',
  '[',
  ']',
  ',',
  '.',
  'in',
  'contains',
  'exists',
  '@',
  '$',
  '😀',
  ' ',
  '\n',
  '\t',
  'data.',
  'auth.',
  'hasRole("admin")',
  'isAdmin',
  '1e999',
  '9007199254740993',
];
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map((parts) => parts.join(' '));
const deepParens = fc.record({ depth: fc.integer({ min: 1, max: 50_000 }), open: fc.constantFrom('(', '!', '!(', '[') }).map(({ depth, open }) => `${open.repeat(depth)}data.done`);

/** Every source is a parsed (and checked) expression or a PolicyError; nothing else escapes. */
function answered(source: string, operation: PolicyOperation = 'read'): void {
  try {
    checkPolicy(parsePolicy(source), entityScope(todo, operation), source);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    expect(error.diagnostics.length).toBeGreaterThan(0);
  }
}

describe('policy parser (fuzzed)', { timeout }, () => {
  it('answers any text with an expression or a PolicyError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => answered(s)),
      { numRuns: runs, seed },
    );
  });

  it('answers token soup with an expression or a PolicyError, for every operation', () => {
    fc.assert(fc.property(tokenSoup, fc.constantFrom<PolicyOperation>('read', 'insert', 'update', 'delete'), answered), { numRuns: runs * 3, seed });
  });

  it('answers nesting of any depth with POLICY_TOO_DEEP or an expression, without overflowing', () => {
    fc.assert(
      fc.property(deepParens, (s) => answered(s)),
      { numRuns: Math.max(20, runs / 10), seed },
    );
  });

  it('compiles a schema whose policies are token soup, or refuses it with a PolicyError', () => {
    fc.assert(
      fc.property(tokenSoup, (allow) => {
        try {
          compilePolicies(resolveSchema(policyTestManifest([{ name: 'p', entity: 'Todo', allow }])));
        } catch (error) {
          if (!(error instanceof PolicyError)) throw error;
        }
      }),
      { numRuns: runs, seed },
    );
  });
});
