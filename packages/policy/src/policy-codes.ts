/**
 * Every diagnostic code the policy compiler reports, with the rule it stands for. All of them
 * stop start-up: a rule that does not parse or check is never silently treated as deny or allow.
 */
export const policyCodes = {
  POLICY_SYNTAX: { rule: 'the expression is made of the language tokens in a valid order' },
  POLICY_TOO_DEEP: { rule: 'an expression nests at most 64 levels, and exists at most 3' },
  POLICY_UNKNOWN_ROOT: { rule: 'a path starts with auth, data or input (room in a room rule)' },
  POLICY_UNKNOWN_AUTH: { rule: 'auth has userId (user_id), isAdmin, isGuest, roles, tenantId (tenant_id) and orgRole (org_role)' },
  POLICY_UNKNOWN_FIELD: { rule: 'data.x and input.x name a declared field (or id) of the entity, or an input of the action; room.x a placeholder of the room pattern' },
  POLICY_NESTED_PATH: { rule: 'a path has one name after its root (no json sub-paths)' },
  POLICY_SCOPE: { rule: 'data and input are only used where the operation has them' },
  POLICY_TYPE_MISMATCH: { rule: 'both sides of a comparison, and the items of in, have compatible types' },
  POLICY_NOT_CONDITION: { rule: 'operands of && || ! and the whole rule are conditions or booleans-like values' },
  POLICY_BAD_LITERAL: { rule: 'literals fit the field they are compared with (integers for int, ISO-8601 for datetime, no null in lists)' },
  POLICY_UNKNOWN_FUNCTION: { rule: 'the functions are auth.hasRole and auth.hasAnyRole' },
  POLICY_ARITY: { rule: 'hasRole takes one string literal, hasAnyRole one or more' },
  POLICY_DATA_COMPARISON: {
    rule: 'a row field is compared with a constant, an auth value or an input value, not another field of the same row (inside exists, a related field may equal one field of an enclosing row)',
  },
  POLICY_UNKNOWN_ENTITY: { rule: 'exists(Entity, …) names an entity of the schema' },
  POLICY_BINDING: { rule: 'the row an exists binds has a new name (not auth, data, input, exists or an enclosing binding)' },
  POLICY_OUTER_ROW: { rule: 'inside exists, an enclosing row is only used to equal a field of the related row' },
} as const satisfies Record<string, { rule: string }>;

/** A policy diagnostic code. */
export type PolicyCode = keyof typeof policyCodes;
