import type { FastifyInstance } from 'fastify';
import type { WritePath } from '../entities/write-path.js';
import { pushCrdtUpdate, updateFromJsonBody } from '../crdt/crdt-push.js';

/** What the CRDT route needs. */
export interface CrdtRouteDeps {
  readonly writes: WritePath;
  /** Largest update accepted, in bytes. */
  readonly maxUpdateBytes: number;
}

/**
 * `POST /api/crdt/<entity>/<rowId>`: a Loro update as Pylon's `{"update":"<hex>"}` or as raw
 * `application/octet-stream` bytes. Answers `{"ok":true,"seq":N}` (seq 0 when the row did not
 * change).
 */
export function registerCrdtRoutes(app: FastifyInstance, deps: CrdtRouteDeps): void {
  void app.register(async (scope) => {
    // Raw bytes only on this route: everywhere else octet-stream stays 415.
    scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    scope.post('/api/crdt/:entity/:id', async (request) => {
      const { entity, id } = request.params as { entity: string; id: string };
      const body = request.body;
      const update = (): Uint8Array => (Buffer.isBuffer(body) ? new Uint8Array(body) : updateFromJsonBody(body));
      const outcome = await pushCrdtUpdate(deps.writes, request.auth, entity, id, update, deps.maxUpdateBytes);
      return { ok: true, seq: outcome.seq };
    });
  });
}
