import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const MAST = join(process.cwd(), 'packages/cli/bin/mast.js');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mast-cli-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function mast(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MAST, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
}

/** Starts `mast start` and resolves with the port it logged. */
function startServer(appDir: string, command = 'start', extraEnv: Record<string, string> = {}): Promise<{ port: number; proc: ReturnType<typeof spawn>; output: () => string }> {
  const proc = spawn(process.execPath, [MAST, command, appDir, '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, MAST_ADMIN_TOKEN: 'secret-admin-token', ...extraEnv },
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in: ${out}`)), 20_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m && out.includes('Mast listening')) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), proc, output: () => out });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

/** Polls a URL until it answers 200 (a reload landed) or ten seconds pass; returns the last status. */
async function statusOnceReloaded(url: string, init: RequestInit = {}): Promise<number> {
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 200));
    status = (await fetch(url, init)).status;
  }
  return status;
}

// Each case spawns the CLI (a TypeScript start-up) several times: slow on a loaded machine.
describe('mast CLI', { timeout: 90_000 }, () => {
  it('prints help generated from the options table', () => {
    const res = mast(['--help']);
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('MAST_PORT');
    expect(res.stdout).toContain('--database-url');
    expect(res.stdout).toContain('mast init <dir>');
  });

  it('init creates an app that starts, serves and stops gracefully on SIGTERM', async () => {
    const app = join(dir, 'my-app');
    expect(mast(['init', app, '--manifest']).status).toBe(0);
    expect(mast(['init', app, '--manifest']).status).toBe(1); // not empty any more
    const { port, proc, output } = await startServer(app);
    const created = await fetch(`http://127.0.0.1:${port}/api/entities/Todo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'from the cli test', done: false }),
    });
    expect(created.status).toBe(201);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).not.toContain('secret-admin-token');
    // Outside dev mode the per-request line is at debug: not in an info log.
    expect(output()).not.toContain('"request":{');
  });

  it('dev reloads the schema when the manifest changes and keeps serving through a bad edit', async () => {
    const app = join(dir, 'dev-app');
    mast(['init', app, '--manifest']);
    const { port, proc, output } = await startServer(app, 'dev');
    const base = `http://127.0.0.1:${port}`;
    try {
      expect((await fetch(`${base}/api/entities/Note`)).status).toBe(400);
      // Dev mode logs one JSON line per request at info (stdout is not a terminal here), without
      // the query string.
      await fetch(`${base}/api/entities/Todo?token=query-secret`);
      for (let i = 0; i < 25 && !output().includes('"path":"/api/entities/Todo"'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(output()).toMatch(/"level":30,[^\n]*"request":\{"method":"GET","path":"\/api\/entities\/Todo","status":200,"ms":[\d.]+,"user":null\}/);
      expect(output()).not.toContain('query-secret');
      const file = join(app, 'pylon.manifest.json');
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(file, '{ not json');
      await new Promise((r) => setTimeout(r, 500));
      expect((await fetch(`${base}/api/entities/Todo`)).status).toBe(200);
      // A rule with a typo is reported with its position, and the old rules stay.
      writeFileSync(file, JSON.stringify({ ...manifest, policies: [{ name: 'todo_open', entity: 'Todo', allow: 'data.titel != null' }] }));
      for (let i = 0; i < 50 && !output().includes('POLICY_UNKNOWN_FIELD'); i++) await new Promise((r) => setTimeout(r, 200));
      expect(output()).toContain('policies[0] todo_open.allow (entity Todo)');
      expect((await fetch(`${base}/api/entities/Todo`)).status).toBe(200);
      manifest.entities.push({ name: 'Note', fields: [{ name: 'body', type: 'string', optional: false, unique: false }], indexes: [] });
      manifest.policies.push({ name: 'note_open', entity: 'Note', allow: 'true' });
      writeFileSync(file, JSON.stringify(manifest));
      expect(await statusOnceReloaded(`${base}/api/entities/Note`)).toBe(200);
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('dev serves a schema.ts app and reloads it when edited', async () => {
    const app = join(dir, 'ts-app');
    mast(['init', app, '--manifest']);
    const manifest = JSON.parse(readFileSync(join(app, 'pylon.manifest.json'), 'utf8'));
    rmSync(join(app, 'pylon.manifest.json'));
    const write = (m: unknown) =>
      writeFileSync(join(app, 'schema.ts'), `const schema: { name: string } & Record<string, unknown> = ${JSON.stringify(m)};\nexport default schema;\n`);
    write(manifest);
    const { port, proc } = await startServer(app, 'dev');
    const base = `http://127.0.0.1:${port}`;
    try {
      expect((await fetch(`${base}/api/entities/Todo`)).status).toBe(200);
      manifest.entities.push({ name: 'Note', fields: [{ name: 'body', type: 'string', optional: false, unique: false }], indexes: [] });
      manifest.policies.push({ name: 'note_open', entity: 'Note', allow: 'true' });
      write(manifest);
      expect(await statusOnceReloaded(`${base}/api/entities/Note`)).toBe(200);
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('dev reloads functions when a file in functions/ changes', async () => {
    // Inside the repository, so the function file can import @mast/functions from node_modules.
    const local = mkdtempSync(join(process.cwd(), '.tmp-cli-'));
    try {
      const app = join(local, 'fn-app');
      mast(['init', app, '--manifest']);
      const { port, proc } = await startServer(app, 'dev');
      try {
        const url = `http://127.0.0.1:${port}/api/fn/hello`;
        expect((await fetch(url, { method: 'POST' })).status).toBe(404);
        writeFileSync(join(app, 'functions', 'hello.ts'), "import { query } from '@mast/functions';\nexport default query({ async handler() { return 'hi'; } });\n");
        expect(await statusOnceReloaded(url, { method: 'POST' })).toBe(200);
        expect(await (await fetch(url, { method: 'POST' })).json()).toBe('hi');
      } finally {
        proc.kill('SIGTERM');
      }
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('refuses to start on an invalid manifest with a message naming entity and field', () => {
    writeFileSync(
      join(dir, 'pylon.manifest.json'),
      JSON.stringify({
        manifest_version: 1,
        name: 'bad',
        version: '1',
        routes: [],
        entities: [{ name: 'Todo', indexes: [], fields: [{ name: 'title', type: 'strng', optional: false, unique: false }] }],
      }),
    );
    const res = mast(['start', dir, '--port', '0']);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('FIELD_TYPE_UNKNOWN');
    expect(res.stderr).toContain('Todo');
    expect(res.stderr).toContain('title');
  });

  it('migrate --dry-run prints the plan and applies nothing', () => {
    const app = join(dir, 'app');
    mast(['init', app, '--manifest']);
    const dry = mast(['migrate', app, '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('dry run');
    expect(dry.stdout).toMatch(/Todo/);
    // A dry run on a new app writes nothing: no database file, not even its folder.
    expect(existsSync(join(app, '.mast'))).toBe(false);
    const applied = mast(['migrate', app]);
    expect(applied.stdout).toContain('Applied');
    expect(mast(['migrate', app]).stdout).toContain('already matches');
    // On an existing database, a dry run of a changed schema leaves the file as it was.
    const file = join(app, 'pylon.manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    manifest.entities[0].fields.push({ name: 'note', type: 'string', optional: true });
    writeFileSync(file, JSON.stringify(manifest));
    const before = readFileSync(join(app, '.mast', 'mast.db'));
    expect(mast(['migrate', app, '--dry-run']).stdout).toContain('note');
    expect(readFileSync(join(app, '.mast', 'mast.db')).equals(before)).toBe(true);
  });

  it('a refused destructive change prints commands that work as printed, and how to keep the data', () => {
    const app = join(dir, 'my app');
    mast(['init', app, '--manifest']);
    expect(mast(['migrate', app]).status).toBe(0);
    const file = join(app, 'pylon.manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    manifest.entities[0].fields = manifest.entities[0].fields.filter((f: { name: string }) => f.name !== 'createdAt');
    writeFileSync(file, JSON.stringify(manifest));
    // `mast start` (and `mast dev` off a terminal) refuses, naming this app's folder and `npx mast`
    // (not on PATH here), and says how to keep the data.
    const refused = mast(['start', app, '--port', '0']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('DESTRUCTIVE drop column Todo.createdAt');
    expect(refused.stderr).toContain('renamedFrom');
    const command = /^ {2}(npx mast migrate .* --allow-destructive)$/m.exec(refused.stderr)?.[1];
    expect(command).toBe(`npx mast migrate '${app}' --allow-destructive`);
    const refusedNpm = mast(['start', app, '--port', '0'], { npm_lifecycle_event: 'mast', INIT_CWD: dir });
    expect(refusedNpm.stderr).toContain(`\n  npm run mast -- migrate 'my app' --allow-destructive\n`);
    expect(refusedNpm.stderr).toContain(`\n  npm run mast -- backup 'my app' --to backup.db\n`);
    const applied = spawnSync('sh', ['-c', command!], { encoding: 'utf8', cwd: process.cwd(), timeout: 60_000 });
    expect(applied.stdout).toContain('Applied');
    expect(applied.stdout).toContain('drop column Todo.createdAt');
  });

  it('dev on a terminal offers the refused destructive change and applies it when answered yes', async () => {
    const app = join(dir, 'app');
    mast(['init', app, '--manifest']);
    expect(mast(['migrate', app]).status).toBe(0);
    const file = join(app, 'pylon.manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    manifest.entities[0].fields = manifest.entities[0].fields.filter((f: { name: string }) => f.name !== 'createdAt');
    writeFileSync(file, JSON.stringify(manifest));
    // util-linux `script` gives the process a terminal (stdin is a TTY there).
    const proc = spawn('script', ['-qec', `${process.execPath} ${MAST} dev ${app} --port 0 --host 127.0.0.1`, '/dev/null'], { env: { ...process.env } });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('[y/N]') && !out.includes('answered')) {
        out += '(answered)';
        proc.stdin.write('y\n');
      }
    });
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    try {
      for (let i = 0; i < 200 && !out.includes('Mast listening'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('Apply the destructive change now');
      expect(out).toContain('Mast listening');
      // On a terminal, dev mode logs readable lines, not JSON.
      expect(out).toMatch(/INFO.*: .*Mast listening on http/);
      expect(out).not.toContain('{"level"');
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
    expect(mast(['migrate', app]).stdout).toContain('already matches');
  });

  it('resolves folders against the directory the user ran `npm run mast --` from', () => {
    const res = mast(['init', 'nested-app', '--manifest'], { npm_lifecycle_event: 'mast', INIT_CWD: dir });
    expect(res.status).toBe(0);
    expect(existsSync(join(dir, 'nested-app', 'pylon.manifest.json'))).toBe(true);
    expect(existsSync(join(process.cwd(), 'nested-app'))).toBe(false);
    expect(res.stdout).toContain('cd nested-app && npx mast dev .');
  });

  it('rejects an unknown option and a bad value', () => {
    expect(mast(['start', dir, '--nope']).stderr).toContain('unknown option --nope');
    expect(mast(['start', dir, '--port', 'abc']).stderr).toContain('MAST_PORT');
  });
});

/** An app with owner rules on Todo and no rule at all on Note. */
function policyApp(app: string, policies: unknown[]): void {
  mast(['init', app, '--manifest']);
  const file = join(app, 'pylon.manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.entities[0].fields.push({ name: 'ownerId', type: 'string', optional: true, unique: false });
  manifest.entities.push({ name: 'Note', crdt: false, fields: [{ name: 'body', type: 'string', optional: false, unique: false }], indexes: [] });
  manifest.policies = policies;
  writeFileSync(file, JSON.stringify(manifest, null, 2));
}

const OWNER_RULES = [{ name: 'todo_owner', entity: 'Todo', allowRead: 'auth.userId == data.ownerId || auth.hasRole("auditor")', allowWrite: 'auth.userId == data.ownerId' }];

describe('mast policy check', () => {
  it('lists the rules in force per entity and operation, and exits 0', () => {
    const app = join(dir, 'app');
    policyApp(app, OWNER_RULES);
    const res = mast(['policy', 'check', app]);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toContain(`${join(app, 'pylon.manifest.json')}: 1 policy, no problems`);
    expect(res.stdout).toMatch(/Todo\s+read: todo_owner\.allowRead; insert, update, delete: todo_owner\.allowWrite/);
    expect(res.stdout).toMatch(/Note\s+read, insert, update, delete: no rule \(admin only\)/);
    // Room rules are listed by pattern (the chat example guards channel:{id}).
    const chat = mast(['policy', 'check', 'examples/chat']);
    expect(chat.status, chat.stderr).toBe(0);
    expect(chat.stdout).toContain('room channel:{id}  join: channel_rooms.allowJoin');
    expect(chat.stdout).toMatch(/Message\s+read: message_members\.allowRead; insert: message_members\.allowInsert/);
  }, 60_000);

  it('reports every bad rule with file, policy, rule, entity and position, exits 1; start refuses with the same report', () => {
    const app = join(dir, 'app');
    policyApp(app, [
      { name: 'todo_owner', entity: 'Todo', allowRead: 'true', allowWrite: 'auth.userId ==\n  data.ownr' },
      { name: 'note_typo', entity: 'Note', allow: "data.body = 'x'" },
    ]);
    const file = join(app, 'pylon.manifest.json');
    const check = mast(['policy', 'check', app]);
    expect(check.status).toBe(1);
    expect(check.stdout).toBe('');
    const expected = [
      `Invalid policies in ${file}: 2 errors`,
      'error[POLICY_UNKNOWN_FIELD] policy "todo_owner" allowWrite, line 2, column 3: unknown field data.ownr on Todo (did you mean ownerId?)',
      `  at ${file} policies[0] todo_owner.allowWrite (entity Todo)`,
      '  |   data.ownr',
      '  |   ^',
      '  hint: fields: id, title, done, createdAt, ownerId',
      'error[POLICY_SYNTAX] policy "note_typo" allow, column 11: "=" is not an operator; use "=="',
      `  at ${file} policies[1] note_typo.allow (entity Note)`,
      "  | data.body = 'x'",
      '  |           ^',
    ].join('\n');
    expect(check.stderr.trim()).toBe(expected);
    const start = mast(['start', app, '--port', '0']);
    expect(start.status).toBe(1);
    expect(start.stderr.trim()).toBe(expected);
    // Nothing was opened or created: a bad rule stops start-up before the database.
    expect(existsSync(join(app, '.mast'))).toBe(false);
  }, 60_000);

  it('--explain says why a user may or may not act on a row, as POST /api/policy/explain does; exit 0 allowed, 1 denied', async () => {
    const app = join(dir, 'app');
    policyApp(app, OWNER_RULES);
    const { port, proc } = await startServer(app);
    try {
      const base = `http://127.0.0.1:${port}`;
      const admin = { authorization: 'Bearer secret-admin-token', 'content-type': 'application/json' };
      const created = await fetch(`${base}/api/entities/Todo`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ id: 't1', title: 'bob todo', done: false, ownerId: 'bob' }),
      });
      expect(created.status).toBe(201);
      const explain = (...args: string[]) => mast(['policy', 'check', app, '--explain', '--entity', 'Todo', '--id', 't1', ...args]);

      const denied = explain('--user', 'alice');
      expect(denied.status, denied.stderr).toBe(1);
      expect(denied.stdout).toContain('alice may not read Todo "t1": denied by policy "todo_owner" (allowRead)');
      expect(denied.stdout).toContain('rule:  auth.userId == data.ownerId || auth.hasRole("auditor")');
      expect(denied.stdout).toContain('"ownerId":"bob"');

      const auditor = explain('--user', 'alice', '--roles', 'auditor,reviewer');
      expect(auditor.status).toBe(0);
      expect(auditor.stdout).toContain('alice may read Todo "t1": every rule for read holds (todo_owner.allowRead)');
      expect(explain('--user', 'alice', '--roles', 'auditor', '--op', 'update').status).toBe(1);
      expect(explain('--user', 'bob', '--op', 'delete').status).toBe(0);

      // The same answer as the endpoint, field for field.
      const json = explain('--user', 'alice', '--roles', 'auditor', '--tenant', 'acme', '--org-role', 'owner', '--guest', '--op', 'update', '--json');
      const http = await fetch(`${base}/api/policy/explain`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({
          entity: 'Todo',
          id: 't1',
          operation: 'update',
          auth: { user_id: 'alice', roles: ['auditor'], tenant_id: 'acme', org_role: 'owner', is_guest: true },
        }),
      });
      expect(JSON.parse(json.stdout)).toEqual(await http.json());
      expect(JSON.parse(json.stdout)).toMatchObject({
        allowed: false,
        reason: 'denied',
        rule: 'allowWrite',
        saw: { auth: { tenant_id: 'acme', org_role: 'owner', is_guest: true } },
      });

      const noRow = mast(['policy', 'check', app, '--explain', '--user', 'bob', '--entity', 'Note', '--id', 'n1']);
      expect(noRow.status).toBe(1);
      expect(noRow.stderr).toContain('Note with id "n1" not found');
      const missing = explain('--user', 'bob', '--id', 'nope');
      expect(missing.status).toBe(1);
    } finally {
      proc.kill('SIGTERM');
    }
  }, 120_000);

  it('exits 2 on a usage mistake, 1 when there is no database', () => {
    const app = join(dir, 'app');
    policyApp(app, OWNER_RULES);
    const usage: string[][] = [
      ['policy'],
      ['policy', 'check', app, '--user', 'alice'],
      ['policy', 'check', app, '--explain', '--entity', 'Todo', '--id', 't1'],
      ['policy', 'check', app, '--explain', '--user', 'a', '--entity', 'Todo', '--id', 't1', '--op', 'insert'],
      ['policy', 'check', app, '--explain', '--user', 'a', '--entity', 'Nope', '--id', 't1'],
      ['start', app, '--explain'],
    ];
    for (const args of usage) {
      const res = mast(args);
      expect(res.status, `${args.join(' ')}: ${res.stderr}`).toBe(2);
      expect(res.stderr).toMatch(/^mast: /);
    }
    const noDb = mast(['policy', 'check', app, '--explain', '--user', 'a', '--entity', 'Todo', '--id', 't1']);
    expect(noDb.status).toBe(1);
    expect(noDb.stderr).toContain('no database at');
    expect(existsSync(join(app, '.mast'))).toBe(false);
  }, 120_000);
});
