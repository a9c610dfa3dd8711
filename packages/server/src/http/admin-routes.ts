import type { FastifyInstance } from 'fastify';
import type { SchemaRef } from '../access/schema-ref.js';
import type { FunctionRegistry } from '../functions/index.js';
import type { Store } from '../store/index.js';
import { registerFunctionListRoute } from './functions-routes.js';
import { registerJobRoutes } from './jobs-routes.js';
import { registerPolicyRoutes } from './policy-routes.js';
import { requireAdmin } from './request-context.js';

/** What the admin routes use. */
export interface AdminRouteDeps {
  readonly store: Store;
  readonly schema: SchemaRef;
  readonly registry: FunctionRegistry;
  readonly now: () => number;
  /** Wakes the job worker after a retried job is due again. */
  readonly onEnqueued: () => void;
}

/**
 * The routes only an admin may call, mounted as one group behind one check: the job queue and
 * crons, the function list and policy explanations. A caller without admin access is refused
 * with 403 FORBIDDEN before its body is parsed. Routes that are open in dev mode (`/metrics`,
 * minting a session) decide in their own group.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  void app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => requireAdmin(request));
    registerJobRoutes(admin, { store: deps.store, registry: deps.registry, now: deps.now, onEnqueued: deps.onEnqueued });
    registerFunctionListRoute(admin, deps.registry);
    registerPolicyRoutes(admin, { schema: deps.schema, store: deps.store });
  });
}
