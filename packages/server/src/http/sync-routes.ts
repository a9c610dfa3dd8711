import type { FastifyInstance } from 'fastify';
import type { SyncService } from '../changes/sync-service.js';
import { queryParam } from './request-context.js';

/** `GET /api/sync/pull` and `POST /api/sync/push`. */
export function registerSyncRoutes(app: FastifyInstance, sync: SyncService): void {
  app.get('/api/sync/pull', async (request) => sync.pull(request.auth, queryParam(request, 'since'), queryParam(request, 'limit')));
  app.post('/api/sync/push', async (request) => sync.push(request.body, request.auth, (err, index) => request.log.error({ err, index }, 'sync push change failed')));
}
