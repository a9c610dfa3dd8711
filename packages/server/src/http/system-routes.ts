import type { FastifyInstance } from 'fastify';
import type { Manifest } from '@mast/schema';
import type { Metrics, MetricGauges } from '../metrics/metrics.js';
import type { SchemaRef } from '../access/schema-ref.js';
import { requireAdmin, queryParam } from './request-context.js';
import { httpErrors } from '../errors/index.js';

/** What the system routes need. */
export interface SystemRouteDeps {
  readonly version: string;
  readonly dev: boolean;
  readonly schema: SchemaRef;
  readonly metrics: Metrics;
  readonly gauges: MetricGauges;
  /** What the app declares that is not loaded (function files, crons); `/health` is 503 while any. */
  readonly problems: () => readonly string[];
}

/** The manifest without policy expressions, as non-admins see it. */
function publicManifest(manifest: Manifest): Manifest {
  if (!manifest.policies) return manifest;
  return {
    ...manifest,
    policies: manifest.policies.map((p) => ({
      name: p.name,
      ...(p.entity !== undefined ? { entity: p.entity } : {}),
      ...(p.action !== undefined ? { action: p.action } : {}),
    })),
  };
}

/** `/health`, `/metrics` and `/api/manifest`. */
export function registerSystemRoutes(app: FastifyInstance, deps: SystemRouteDeps): void {
  const started = Date.now();

  // Not ready while part of the app failed to load: a deploy's health check must not pass with
  // functions or crons silently missing.
  app.get('/health', async (_request, reply) => {
    const uptime = Math.floor((Date.now() - started) / 1000);
    const problems = deps.problems();
    if (problems.length === 0) return { status: 'ok', version: deps.version, uptime_secs: uptime };
    reply.code(503);
    return { status: 'not_ready', version: deps.version, uptime_secs: uptime, problems };
  });

  app.get('/metrics', async (request, reply) => {
    if (!deps.dev && !request.auth.isAdmin) throw httpErrors.metricsNeedAdmin();
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return deps.metrics.render(deps.gauges);
  });

  app.get('/api/manifest', async (request) => {
    const full = queryParam(request, 'full');
    const manifest = deps.schema.current.manifest;
    if (full === '1' || full === 'true') {
      requireAdmin(request);
      return manifest;
    }
    return request.auth.isAdmin ? manifest : publicManifest(manifest);
  });
}
