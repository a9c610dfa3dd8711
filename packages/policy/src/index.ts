/**
 * @mast/policy: the access-rule language of Pylon manifests (allowRead, allowInsert, allowUpdate,
 * allowDelete, allowWrite, allow), compiled once at start-up — lex → parse → check against the
 * schema — and run by two back-ends that agree: a filter tree for the store (lists, counts,
 * live-query initial results) and an in-memory evaluator (writes, live diffs, CRDT pushes).
 * No I/O. See README.md for the semantics.
 */
export type * from './ast.js';
export { relatedAccesses, relatedEntities } from './ast.js';
export { parsePolicy } from './parser.js';
export { tokenize } from './lexer.js';
export type { Token, Punct } from './lexer.js';
export { checkPolicy } from './checker.js';
export { entityScope, actionScope, roomScope } from './policy-scope.js';
export type { PolicyScope, PolicyOperation } from './policy-scope.js';
export { compileToFilter, evaluatePolicy, readsRelated } from './compile-to-filter.js';
export { MAX_EXISTS_DEPTH } from './checker.js';
export type { PolicyContext } from './evaluate-policy.js';
export { compilePolicies, RULE_CHAINS } from './policy-set.js';
export type { PolicySet, PolicyDecision, CompiledRule, PolicyOptions, RoomRule } from './policy-set.js';
export type { PolicyAuth, PolicyRow, AuthProperty } from './policy-auth.js';
export { policyCodes } from './policy-codes.js';
export type { PolicyCode } from './policy-codes.js';
export { PolicyError, formatPolicyDiagnostics } from './policy-error.js';
export type { PolicyDiagnostic, PolicyOrigin, RuleKey } from './policy-error.js';
