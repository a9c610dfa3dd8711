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
  /** Dev mode: the read-only listings of the app's own code (`DEV_OPEN`) need no token. */
  readonly dev: boolean;
}

/**
 * Listings of what the app declares (function names and argument schemas, cron schedules), open
 * in dev mode like `/metrics`. Jobs (which hold callers' arguments), their retry and cancel, and
 * policy explanations (which read rows) need the admin token in dev mode too.
 */
const DEV_OPEN: ReadonlySet<string> = new Set(['GET /api/fn', 'GET /api/crons']);

/**
 * The routes only an admin may call, mounted as one group behind one check: the job queue and
 * crons, the function list and policy explanations. A caller without admin access is refused
 * with 403 FORBIDDEN before its body is parsed. In dev mode the listings in `DEV_OPEN` are open;
 * other routes open in dev mode (`/metrics`, minting a session) decide in their own group.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  void app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => {
      if (deps.dev && DEV_OPEN.has(`${request.method} ${request.routeOptions.url ?? ''}`)) return;
      requireAdmin(request);
    });
    registerJobRoutes(admin, { store: deps.store, registry: deps.registry, now: deps.now, onEnqueued: deps.onEnqueued });
    registerFunctionListRoute(admin, deps.registry);
    registerPolicyRoutes(admin, { schema: deps.schema, store: deps.store });
  });
}
