import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// The monorepo's own tests import each package's TypeScript source (its `source` export
// condition), so they need no build; built `dist/` is what `npm start` and installs use.
const conditions = ['source', ...defaultServerConditions];

// Pure packages (no I/O, no process state, no servers): their files share worker threads and
// their loaded modules instead of paying a fresh process and a fresh import per file.
const PURE = ['packages/protocol/src/**/*.test.ts', 'packages/schema/src/**/*.test.ts', 'packages/policy/test/**/*.test.ts', 'packages/functions/src/**/*.test.ts'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    // PostgreSQL suites (*.pg.test.ts) use MAST_TEST_DATABASE_URL, default the local server's
    // `test` database, each file in a schema of its own; .ci/run starts PostgreSQL first.
    exclude: ['**/node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    projects: [
      { extends: true, test: { name: 'pure', include: PURE, pool: 'threads', isolate: false } },
      {
        extends: true,
        test: {
          name: 'runtime',
          include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...PURE],
          pool: 'forks',
        },
      },
    ],
  },
});
