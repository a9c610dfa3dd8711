import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors/index.js';
import { AuthorError, type FunctionRegistry, type FunctionRunner } from '../functions/index.js';
import { requireAdmin } from './request-context.js';

/** Services the function routes use. */
export interface FunctionRouteDeps {
  readonly runner: FunctionRunner;
  readonly registry: FunctionRegistry;
}

/** The op id of a mutation call (`Idempotency-Key`), validated like the REST writes'. */
function opIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  if (value.length === 0 || value.length > 200) throw new AppError('INVALID_DATA', 'Idempotency-Key must be 1-200 characters');
  return value;
}

/** JSON Schema of a function's arguments, for `GET /api/fn` (null when zod cannot express it). */
function argsSchema(args: z.ZodType): unknown {
  try {
    return z.toJSONSchema(args, { unrepresentable: 'any' });
  } catch {
    return null;
  }
}

/**
 * `POST /api/fn/<name>` (body = args; 200 with the raw JSON result) and `GET /api/fn` (admin:
 * the functions served). Errors use Pylon's shape; an author's own code is sent as they chose it.
 */
export function registerFunctionRoutes(app: FastifyInstance, deps: FunctionRouteDeps): void {
  app.post('/api/fn/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const opId = opIdOf(request);
    try {
      const result = await deps.runner.call(name, request.body, request.auth, opId === undefined ? {} : { opId });
      return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(result));
    } catch (err) {
      if (err instanceof AuthorError) return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
      throw err;
    }
  });

  app.get('/api/fn', async (request) => {
    requireAdmin(request);
    return deps.registry.list().map((f) => ({ name: f.name, fn_type: f.kind, args_schema: argsSchema(f.definition.args), ...(f.definition.unsafeBypassPolicies ? { bypasses_policies: true } : {}) }));
  });
}
