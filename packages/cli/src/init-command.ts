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

function readmeFor(name: string): string {
  return `# ${name}

A Mast app. Start it with \`mast dev .\` (reloads when the manifest changes) or \`mast start .\`,
then try:

    curl -X POST localhost:4321/api/entities/Todo -H 'content-type: application/json' \\
      -d '{"title":"first","done":false}'
    curl localhost:4321/api/entities/Todo

The schema is \`pylon.manifest.json\`; data lives in \`.mast/\`.
`;
}

/** Scaffolds a new app folder that `mast start` serves; refuses a non-empty folder. */
export function initApp(dir: string): string {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new Error(`${target} is not empty; mast init needs a new or empty folder`);
  }
  const name = basename(target).replace(/[^A-Za-z0-9_-]/g, '_');
  mkdirSync(join(target, 'functions'), { recursive: true });
  writeFileSync(join(target, 'pylon.manifest.json'), manifestFor(name));
  writeFileSync(join(target, 'README.md'), readmeFor(name));
  writeFileSync(join(target, '.gitignore'), GITIGNORE);
  writeFileSync(join(target, 'functions', '.gitkeep'), '');
  return target;
}
