import type { FastifyInstance } from 'fastify';
import { explainPolicy } from '../access/policy-explain.js';
import type { SchemaRef } from '../access/schema-ref.js';
import type { Store } from '../store/index.js';

/**
 * `POST /api/policy/explain` (in the admin group): why a user may or may not do something to a row — the
 * decision, the policy and rule that decided it with its expression, and the values it saw.
 */
export function registerPolicyRoutes(app: FastifyInstance, deps: { schema: SchemaRef; store: Store }): void {
  app.post('/api/policy/explain', async (request) => {
    return explainPolicy(deps, request.body);
  });
}
