/**
 * `@mast/server/testing`: the Store conformance suite and its fixtures, so that every backend
 * (in this repository or outside it) runs the same cases, and the PostgreSQL test schemas. Like
 * `@mast/policy/testing` it is TypeScript source for test runners, not part of the build.
 */
export { storeConformance } from './store/store.case.js';
export type { MakeStore } from './store/store.case.js';
export { createPlan, expectAppError, idSet, ids, item, itemEntity, migrateBase, schemaOf, userEntity } from './store/conformance/fixtures.js';
export type { StoreRef } from './store/conformance/fixtures.js';
export { testSchema, TEST_DATABASE_URL } from './store/postgres/pg-test-schema.js';
