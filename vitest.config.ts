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
    // Postgres-backed suites opt in with *.pg.test.ts; they run where MAST_TEST_PG_URL is set.
    exclude: ['**/node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
