/**
 * Test fixtures shared with other packages' tests (the SQL-side policy tests in @mast/server):
 * the policy table, its rows and callers, and the seeded rule fuzzer. Not used at runtime.
 */
export { policyTestManifest, policyTestSchema, AUTHS, ROWS, RELATED, memoryLookup } from './fixtures.js';
export type { AuthName } from './fixtures.js';
export { POLICY_CASES, expandPolicyCases } from './policy-cases.js';
export type { PolicyCase, ExpandedPolicyCase } from './policy-cases.js';
export { policyFuzzer, prng } from './policy-fuzzer.js';
export type { FuzzerOptions } from './policy-fuzzer.js';
