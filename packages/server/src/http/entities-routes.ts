import type { FastifyInstance, FastifyRequest } from 'fastify';
import { httpErrors, toAppError } from '../errors/index.js';
import type { EntityReader } from '../entities/entity-reader.js';
import type { WriteContext, WriteOp, WritePath } from '../entities/write-path.js';
import { queryParam } from './request-context.js';

/** Services the entity routes use. */
export interface EntityRouteDeps {
  readonly reader: EntityReader;
  readonly writes: WritePath;
  readonly batchMaxOps: number;
}

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

function methodNotAllowed(method: string, allowed: string): never {
  throw httpErrors.methodNotAllowed(method, allowed);
}

/** Parses one batch/transact operation, or throws INVALID_OPERATION naming its index. */
function parseOp(raw: unknown, index: number): WriteOp {
  const fail = (what: string): never => {
    throw httpErrors.invalidOperation(index, what);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('must be an object');
  const op = raw as Record<string, unknown>;
  if (typeof op.entity !== 'string') return fail('"entity" must be a string');
  switch (op.op) {
    case 'insert':
      return { op: 'insert', entity: op.entity, data: op.data ?? {}, ...(op.id !== undefined ? { id: op.id } : {}) };
    case 'update':
    case 'delete':
      if (typeof op.id !== 'string' || op.id === '') return fail(`"${op.op}" needs a string "id"`);
      return op.op === 'update' ? { op: 'update', entity: op.entity, id: op.id, data: op.data ?? {} } : { op: 'delete', entity: op.entity, id: op.id };
    default:
      return fail(`unknown op ${JSON.stringify(op.op)} (insert, update or delete)`);
  }
}

/**
 * Who writes, and the client op id of a REST write (`Idempotency-Key` header, or `op_id` in a
 * transact body): a retry with the same id returns the first result.
 */
function writeContext(request: FastifyRequest, bodyOpId?: unknown): WriteContext {
  const header = request.headers['idempotency-key'];
  const value = bodyOpId ?? (Array.isArray(header) ? header[0] : header);
  if (value === undefined) return { auth: request.auth };
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw httpErrors.invalidOpId();
  }
  return { auth: request.auth, opId: value };
}

function parseOps(body: unknown, max: number, allowBareArray: boolean): unknown[] {
  const list = allowBareArray && Array.isArray(body) ? body : (body as { operations?: unknown } | null)?.operations;
  if (!Array.isArray(list)) throw httpErrors.missingOperations();
  if (list.length > max) throw httpErrors.tooManyOperations(max, list.length);
  return list;
}

/** CRUD, list, cursor, query, lookup, batch and transact, at Pylon's paths. */
export function registerEntityRoutes(app: FastifyInstance, deps: EntityRouteDeps): void {
  const { reader, writes } = deps;

  app.route({
    method: [...ALL_METHODS],
    url: '/api/entities/:entity',
    handler: async (request, reply) => {
      const { entity } = request.params as { entity: string };
      if (request.method === 'GET') {
        return reader.list(request.auth, entity, { limit: queryParam(request, 'limit'), offset: queryParam(request, 'offset'), total: queryParam(request, 'total') });
      }
      if (request.method === 'POST') {
        const { results } = await writes.apply([{ op: 'insert', entity, data: request.body }], writeContext(request));
        const result = results[0]!;
        return reply.code(201).send({ id: result.id, seq: result.seq });
      }
      return methodNotAllowed(request.method, 'GET, POST');
    },
  });

  app.get('/api/entities/:entity/cursor', async (request) => {
    const { entity } = request.params as { entity: string };
    return reader.cursor(request.auth, entity, { after: queryParam(request, 'after'), limit: queryParam(request, 'limit') });
  });

  app.route({
    method: [...ALL_METHODS],
    url: '/api/entities/:entity/*',
    handler: async (request) => {
      const params = request.params as { entity: string; '*': string };
      const { entity } = params;
      const id = params['*'];
      if (id === '') {
        if (request.method === 'GET')
          return reader.list(request.auth, entity, { limit: queryParam(request, 'limit'), offset: queryParam(request, 'offset'), total: queryParam(request, 'total') });
        return methodNotAllowed(request.method, 'GET');
      }
      switch (request.method) {
        case 'GET':
          return reader.get(request.auth, entity, id);
        case 'PATCH': {
          const { results } = await writes.apply([{ op: 'update', entity, id, data: request.body }], writeContext(request));
          return { updated: true, seq: results[0]!.seq };
        }
        case 'DELETE': {
          const { results } = await writes.apply([{ op: 'delete', entity, id }], writeContext(request));
          return { deleted: true, seq: results[0]!.seq };
        }
        default:
          return methodNotAllowed(request.method, 'GET, PATCH, DELETE');
      }
    },
  });

  app.post('/api/query/:entity', async (request, reply) => {
    const { entity } = request.params as { entity: string };
    const { rows, hasMore } = await reader.query(request.auth, entity, request.body);
    if (hasMore) reply.header('x-mast-has-more', 'true');
    return rows;
  });

  app.get('/api/lookup/:entity/:field/*', async (request) => {
    const params = request.params as { entity: string; field: string; '*': string };
    return reader.lookup(request.auth, params.entity, params.field, params['*']);
  });

  // Independent operations: each commits or fails on its own (Pylon's batch). Every outcome is
  // in its result, an unexpected failure (INTERNAL, logged with its stack) included: answering
  // 500 would hide which operations before it committed.
  app.post('/api/batch', async (request) => {
    const list = parseOps(request.body, deps.batchMaxOps, false);
    const results: Array<Record<string, unknown>> = [];
    let succeeded = 0;
    for (const [index, raw] of list.entries()) {
      try {
        const { results: done } = await writes.apply([parseOp(raw, index)], { auth: request.auth });
        const r = done[0]!;
        results.push({ op: r.op, id: r.id, ok: true, seq: r.seq });
        succeeded++;
      } catch (err) {
        const e = toAppError(err);
        if (e.code === 'INTERNAL') request.log.error({ err, index }, 'batch operation failed');
        const op = raw as { op?: unknown; id?: unknown } | null;
        results.push({ op: op?.op ?? null, ...(typeof op?.id === 'string' ? { id: op.id } : {}), ok: false, code: e.code, error: e.message });
      }
    }
    return { failed: list.length - succeeded, results, succeeded };
  });

  // All or nothing: one transaction; the first failing operation rolls everything back.
  app.post('/api/transact', async (request, reply) => {
    const list = parseOps(request.body, deps.batchMaxOps, true);
    const options = writeContext(request, Array.isArray(request.body) ? undefined : (request.body as { op_id?: unknown }).op_id);
    try {
      const ops = list.map(parseOp);
      const { results } = await writes.apply(ops, options);
      return { committed: true, results: results.map((r) => ({ op: r.op, id: r.id, seq: r.seq })) };
    } catch (err) {
      const e = toAppError(err);
      if (e.code === 'INTERNAL') throw err;
      return reply.code(e.status).send({ committed: false, ...e.toEnvelope() });
    }
  });
}
