import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

const GITIGNORE = '.mast/\nnode_modules/\n';

function manifestFor(name: string): string {
  const manifest = {
    manifest_version: 1,
    name,
    version: '0.1.0',
    entities: [
      {
        name: 'Todo',
        fields: [
          { name: 'title', type: 'string', optional: false, unique: false },
          { name: 'done', type: 'bool', optional: false, unique: false },
          { name: 'createdAt', type: 'datetime', optional: true, unique: false },
        ],
        indexes: [{ name: 'by_done', fields: ['done'], unique: false }],
        crdt: false,
      },
    ],
    routes: [],
    queries: [],
    actions: [],
    // Mast denies what no policy allows; this opens Todo to everyone. Tighten it, e.g.
    // allowRead: "auth.userId == data.ownerId".
    policies: [{ name: 'todo_open', entity: 'Todo', allow: 'true' }],
  };
  return JSON.stringify(manifest, null, 2) + '\n';
}

/** The app's package.json: its dependencies make `schema.ts` and `functions/*.ts` resolve, and give it `npx mast`. */
function packageJsonFor(name: string, version: string): string {
  const range = `^${version}`;
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: { dev: 'mast dev .', start: 'mast start .', migrate: 'mast migrate .' },
    dependencies: { '@mast/cli': range, '@mast/functions': range, '@mast/schema': range },
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

/** For editors and `npx tsc`: Mast itself imports the app's TypeScript through tsx, without checking types. */
const TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', strict: true, noEmit: true, skipLibCheck: true, verbatimModuleSyntax: true, types: [] },
    include: ['schema.ts', 'functions'],
  },
  null,
  2,
)}\n`;

function schemaFor(name: string): string {
  return `// The app's schema: entities, indexes and the policies that open them.
import { defineSchema, entity, field, policy } from '@mast/schema';

const Todo = entity(
  'Todo',
  {
    title: field.string(),
    done: field.boolean(),
    createdAt: field.datetime().optional(),
  },
  { indexes: [{ name: 'by_done', fields: ['done'] }], crdt: false },
);

const schema = defineSchema({
  name: ${JSON.stringify(name)},
  version: '0.1.0',
  entities: [Todo],
  // Mast denies what no policy allows; this opens Todo to everyone. Tighten it, e.g.
  // allowRead: 'auth.userId == data.ownerId'.
  policies: [policy({ name: 'todo_open', entity: 'Todo', allow: 'true' })],
});
export default schema;

// Types \`ctx.db\` in functions/ from this schema: entity names, fields and row types.
declare module '@mast/functions' {
  interface Register {
    schema: typeof schema;
  }
}
`;
}

/** The TypeScript template's function files. */
const FUNCTIONS: Readonly<Record<string, string>> = {
  'addTodo.ts': `// POST /api/fn/addTodo {"title": "..."} → {"id": "..."}: one transaction.
import { mutation, v } from '@mast/functions';

export default mutation({
  args: { title: v.string() },
  async handler(ctx, args): Promise<{ id: string }> {
    const id = await ctx.db.insert('Todo', { title: args.title, done: false, createdAt: new Date().toISOString() });
    return { id };
  },
});
`,
  'openTodos.ts': `// POST /api/fn/openTodos {} → the todos not done yet, oldest first.
import { query } from '@mast/functions';

export default query({
  async handler(ctx) {
    return ctx.db.query('Todo', { done: false, $limit: 100 });
  },
});
`,
  'clearCompleted.ts': `// Deletes completed todos; the \`clearCompleted\` cron (crons.ts) runs it every night.
import { mutation } from '@mast/functions';

export default mutation({
  async handler(ctx): Promise<{ deleted: number }> {
    const done = await ctx.db.query('Todo', { done: true, $limit: 500 });
    for (const todo of done) await ctx.db.delete('Todo', todo.id);
    return { deleted: done.length };
  },
});
`,
  'crons.ts': `// The app's cron schedules (UTC); GET /api/crons (admin) lists them.
import { crons } from '@mast/functions';

export default crons({
  clearCompleted: { schedule: '0 3 * * *', function: 'clearCompleted' },
});
`,
};

function readmeFor(name: string, typescript: boolean): string {
  const schema = typescript ? '`schema.ts`' : '`pylon.manifest.json`';
  return `# ${name}

A Mast app. Install it once (\`npm install\`), then start it with \`npx mast dev .\` (reloads
when the schema or a function changes) or \`npx mast start .\`, and try:

    curl -X POST localhost:4321/api/entities/Todo -H 'content-type: application/json' \\
      -d '{"title":"first","done":false}'
    curl localhost:4321/api/entities/Todo
${
  typescript
    ? `    curl -X POST localhost:4321/api/fn/addTodo -H 'content-type: application/json' -d '{"title":"second"}'
`
    : ''
}
The schema is ${schema}${typescript ? ', the server functions are in `functions/`' : ''}; data lives in \`.mast/\`.
`;
}

/** What `initApp` makes. */
export interface InitOptions {
  /** A Pylon-style \`pylon.manifest.json\` and no functions, instead of the TypeScript template. */
  readonly manifest?: boolean;
  /** The Mast version the app's package.json asks for. */
  readonly version: string;
}

/**
 * Scaffolds a new app folder that \`mast start\` serves; refuses a non-empty folder. The default
 * template is TypeScript: \`schema.ts\`, typed functions and a cron, and a package.json whose
 * dependencies make their imports resolve; \`manifest\` writes \`pylon.manifest.json\` instead.
 */
export function initApp(dir: string, options: InitOptions): string {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new Error(`${target} is not empty; mast init needs a new or empty folder`);
  }
  const name = basename(target).replace(/[^A-Za-z0-9_-]/g, '_');
  const typescript = options.manifest !== true;
  mkdirSync(join(target, 'functions'), { recursive: true });
  writeFileSync(join(target, 'README.md'), readmeFor(name, typescript));
  writeFileSync(join(target, '.gitignore'), GITIGNORE);
  if (!typescript) {
    writeFileSync(join(target, 'pylon.manifest.json'), manifestFor(name));
    writeFileSync(join(target, 'functions', '.gitkeep'), '');
    return target;
  }
  writeFileSync(join(target, 'package.json'), packageJsonFor(name.toLowerCase(), options.version));
  writeFileSync(join(target, 'tsconfig.json'), TSCONFIG);
  writeFileSync(join(target, 'schema.ts'), schemaFor(name));
  for (const [file, text] of Object.entries(FUNCTIONS)) writeFileSync(join(target, 'functions', file), text);
  return target;
}
