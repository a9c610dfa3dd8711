import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatPolicyDiagnostics, PolicyError, type PolicyOperation } from '@mast/policy';
import { loadAppSchema, type AppSchema } from '@mast/schema';
import { AppError, SchemaRef, defaultDatabasePath, explainPolicy, loadConfig, migrateStore, openStore, type MastConfig, type PolicyExplanation } from '@mast/server';
import { UsageError } from './args.js';

/** What `mast policy check --explain` asks about. */
export interface ExplainRequest {
  readonly userId: string;
  readonly roles: readonly string[];
  readonly tenantId: string | null;
  readonly orgRole: string | null;
  readonly isGuest: boolean;
  readonly entity: string;
  readonly id: string;
  readonly operation: PolicyOperation;
  readonly json: boolean;
}

/** Where a report goes; the exit code is the caller's to set. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const OPERATIONS: readonly PolicyOperation[] = ['read', 'insert', 'update', 'delete'];

/**
 * Compiles the app's policies exactly as the server does at start-up. Returns the compiled
 * schema, or null after printing every diagnostic (file, policy, rule, entity, position).
 */
export function compileAppPolicies(schema: AppSchema, source: string, output: Output): SchemaRef | null {
  try {
    return new SchemaRef(schema);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    const count = err.diagnostics.length;
    output.err(`Invalid policies in ${source}: ${count} error${count === 1 ? '' : 's'}\n${formatPolicyDiagnostics(err.diagnostics, source)}\n`);
    return null;
  }
}

/** Which rules guard each operation of each entity, one line per entity. */
function summary(ref: SchemaRef): string {
  const lines: string[] = [];
  const width = Math.max(...ref.current.entities.map((e) => e.name.length));
  for (const entity of ref.current.entities) {
    const groups = new Map<string, PolicyOperation[]>();
    for (const operation of OPERATIONS) {
      const rules = ref.access.rules(entity.name, operation);
      const key = rules.length === 0 ? 'no rule (admin only)' : rules.map((r) => `${r.policy}.${r.rule}`).join(' && ');
      groups.set(key, [...(groups.get(key) ?? []), operation]);
    }
    const text = [...groups].map(([rules, ops]) => `${ops.join(', ')}: ${rules}`).join('; ');
    lines.push(`  ${entity.name.padEnd(width)}  ${text}`);
  }
  const rooms = new Map<string, string[]>();
  for (const rule of ref.access.roomRules()) rooms.set(rule.pattern.source, [...(rooms.get(rule.pattern.source) ?? []), `${rule.policy}.${rule.rule}`]);
  for (const [pattern, rules] of rooms) lines.push(`  room ${pattern}  join: ${rules.join(' && ')}`);
  return lines.join('\n');
}

function describe(ref: SchemaRef, request: ExplainRequest, result: PolicyExplanation): string {
  const held = ref.access
    .rules(result.entity, result.operation)
    .map((r) => `${r.policy}.${r.rule}`)
    .join(', ');
  const who = `${request.isGuest ? 'guest ' : ''}${request.userId}`;
  const what = `${result.operation} ${result.entity} "${request.id}"`;
  const head =
    result.reason === 'admin'
      ? `${who} may ${what}: admin bypasses every rule`
      : result.reason === 'rules'
        ? `${who} may ${what}: every rule for ${result.operation} holds (${held})`
        : result.reason === 'no-rule'
          ? `${who} may not ${what}: no policy has a rule for ${result.operation} on ${result.entity}, so only the admin may`
          : `${who} may not ${what}: denied by policy "${result.policy}" (${result.rule})`;
  const lines = [head];
  if (result.expression !== undefined) lines.push(`  rule:  ${result.expression}`);
  lines.push(`  auth:  ${JSON.stringify(result.saw.auth)}`, `  data:  ${JSON.stringify(result.saw.data)}`);
  for (const r of result.related ?? []) {
    lines.push(`  exists(${r.entity}) in ${r.policy}.${r.rule}: ${r.row === null ? `no ${r.entity} row matches` : JSON.stringify(r.row)}`);
  }
  return lines.join('\n');
}

/** Explains one decision against the app's database, which must already be at the schema. */
async function explain(appDir: string, ref: SchemaRef, request: ExplainRequest, overrides: Partial<MastConfig>, output: Output): Promise<number> {
  if (!ref.current.entitiesByName.has(request.entity)) {
    throw new UsageError(`unknown entity "${request.entity}" (entities: ${ref.current.entities.map((e) => e.name).join(', ')})`);
  }
  const config = loadConfig(process.env, overrides);
  if (config.databaseUrl === null && !existsSync(defaultDatabasePath(appDir))) {
    output.err(`mast: no database at ${defaultDatabasePath(appDir)} (start the app once, or give --database-url)\n`);
    return 1;
  }
  const store = await openStore(config.databaseUrl, appDir);
  try {
    const plan = await migrateStore(store, ref.current, { allowDestructive: false, dryRun: true });
    if (plan.length > 0) {
      output.err(`mast: the database does not match the schema; run \`mast migrate\` first. Pending:\n${plan.map((l) => `  ${l}`).join('\n')}\n`);
      return 1;
    }
    store.useSchema(ref.current);
    ref.bindStore(store);
    const result = await explainPolicy(
      { schema: ref, store },
      {
        entity: request.entity,
        id: request.id,
        operation: request.operation,
        auth: { user_id: request.userId, roles: request.roles, tenant_id: request.tenantId, org_role: request.orgRole, is_guest: request.isGuest },
      },
    );
    output.out(`${request.json ? JSON.stringify(result, null, 2) : describe(ref, request, result)}\n`);
    return result.allowed ? 0 : 1;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.code === 'INVALID_DATA') throw new UsageError(err.message);
    output.err(`mast: ${err.message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

/**
 * `mast policy check [dir] [--explain ...]`: the start-up policy check, then optionally one
 * decision explained. Returns the exit code: 0 fine (or allowed), 1 diagnostics (or denied).
 */
export async function policyCheck(dir: string, request: ExplainRequest | null, overrides: Partial<MastConfig>, output: Output): Promise<number> {
  const appDir = resolve(dir);
  const { schema, source } = await loadAppSchema(appDir);
  const ref = compileAppPolicies(schema, source, output);
  if (ref === null) return 1;
  if (request === null) {
    const count = schema.manifest.policies?.length ?? 0;
    output.out(`${source}: ${count} polic${count === 1 ? 'y' : 'ies'}, no problems\n${summary(ref)}\n`);
    return 0;
  }
  return explain(appDir, ref, request, overrides, output);
}
