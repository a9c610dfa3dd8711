import { afterEach, beforeEach, describe } from 'vitest';
import { authCases } from './conformance/auth.case.js';
import { keysOrgsCases } from './conformance/keys-orgs.case.js';
import { changeLogCases } from './conformance/change-log.case.js';
import { crudCases } from './conformance/crud.case.js';
import { crdtCases } from './conformance/crdt.case.js';
import { filterCases } from './conformance/filter.case.js';
import { jobCases } from './conformance/jobs.case.js';
import { migrationCases } from './conformance/migration.case.js';
import { sessionCases } from './conformance/session.case.js';
import { transactionCases } from './conformance/transaction.case.js';
import type { Store } from './store.js';

/** A fresh, empty store for one test; `cleanup` closes it and removes whatever it created. */
export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

/**
 * The behaviour every Store backend must show, as vitest suites: call it from a backend's test
 * file with a factory that returns a fresh, empty store. Cases that depend on a capability
 * (snapshot reads, a single queued writer) skip themselves where the backend lacks it.
 */
export function storeConformance(name: string, makeStore: MakeStore): void {
  describe(`Store conformance: ${name}`, () => {
    let current: { store: Store; cleanup: () => Promise<void> } | null = null;
    const store = (): Store => {
      if (!current) throw new Error('no store: storeConformance creates one per test');
      return current.store;
    };
    beforeEach(async () => {
      current = await makeStore();
    });
    afterEach(async () => {
      const done = current;
      current = null;
      await done?.cleanup();
    });

    crudCases(store);
    filterCases(store);
    transactionCases(store);
    changeLogCases(store);
    migrationCases(store);
    sessionCases(store);
    authCases(store);
    keysOrgsCases(store);
    crdtCases(store);
    jobCases(store);
  });
}
