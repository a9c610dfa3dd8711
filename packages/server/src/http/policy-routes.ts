import type { FastifyInstance } from 'fastify';
import type { PolicyOperation } from '@mast/policy';
import type { AuthContext } from '../auth/auth-context.js';
import type { SchemaRef } from '../entities/schema-ref.js';
import { AppError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { requireAdmin } from './request-context.js';

const OPERATIONS: ReadonlySet<string> = new Set<PolicyOperation>(['read', 'insert', 'update', 'delete']);

function object(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AppError('INVALID_DATA', `${name} must be an object`, { fields: [name] });
  return value as Record<string, unknown>;
}

/** The caller to explain a decision for: `{user_id, roles?, tenant_id?, org_role?, is_guest?}`, or null for anonymous. */
function subject(value: unknown): AuthContext {
  if (value === null || value === undefined) return { userId: null, isAdmin: false, isGuest: false, roles: [], tenantId: null, orgRole: null };
  const a = object(value, 'auth');
  const roles = a.roles ?? [];
  if (a.user_id !== null && typeof a.user_id !== 'string') throw new AppError('INVALID_DATA', 'auth.user_id must be a string or null', { fields: ['auth'] });
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new AppError('INVALID_DATA', 'auth.roles must be an array of strings', { fields: ['auth'] });
  return {
    userId: (a.user_id as string | null | undefined) ?? null,
    isAdmin: false,
    isGuest: a.is_guest === true,
    roles,
    tenantId: typeof a.tenant_id === 'string' ? a.tenant_id : null,
    orgRole: typeof a.org_role === 'string' ? a.org_role : null,
  };
}

/**
 * `POST /api/policy/explain` (admin): why a user may or may not do something to a row — the
 * decision, the policy and rule that decided it with its expression, and the values it saw.
 */
export function registerPolicyRoutes(app: FastifyInstance, deps: { schema: SchemaRef; store: Store }): void {
  app.post('/api/policy/explain', async (request) => {
    requireAdmin(request);
    const body = object(request.body, 'body');
    if (typeof body.entity !== 'string') throw new AppError('INVALID_DATA', 'entity (a string) is required', { fields: ['entity'] });
    const entity = deps.schema.entity(body.entity);
    const operation = body.operation ?? 'read';
    if (typeof operation !== 'string' || !OPERATIONS.has(operation)) {
      throw new AppError('INVALID_DATA', 'operation must be read, insert, update or delete', { fields: ['operation'] });
    }
    const auth = subject(body.auth);
    let row: Record<string, unknown>;
    if (typeof body.id === 'string') {
      const found = await deps.store.read((tx) => tx.get(entity.name, body.id as string));
      if (!found) throw new AppError('NOT_FOUND', `${entity.name} with id "${body.id}" not found`);
      row = found;
    } else {
      row = object(body.data ?? {}, 'data');
    }
    const input = body.input === undefined ? undefined : object(body.input, 'input');
    const decision = deps.schema.access.explain(auth, entity.name, operation as PolicyOperation, { id: '', ...row, ...(typeof body.id === 'string' ? { id: body.id } : {}) }, input);
    return {
      allowed: decision.allowed,
      reason: decision.reason,
      ...(decision.reason === 'denied' ? { policy: decision.policy, rule: decision.rule, expression: decision.source } : {}),
      saw: { auth: { user_id: auth.userId, roles: auth.roles, tenant_id: auth.tenantId, is_guest: auth.isGuest }, data: row, ...(input ? { input } : {}) },
    };
  });
}
