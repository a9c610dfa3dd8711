import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// The monorepo's own tests import each package's TypeScript source (its `source` export
// condition), so they need no build; built `dist/` is what `npm start` and installs use.
const conditions = ['source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // PostgreSQL suites (*.pg.test.ts) use MAST_TEST_DATABASE_URL, default the local server's
    // `test` database, each file in a schema of its own; .ci/run starts PostgreSQL first.
    exclude: ['**/node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
