import { afterAll } from 'vitest';
import { storeConformance } from '../store.case.js';
import { testSchema } from './pg-test-schema.js';

const schema = testSchema({ maxConnections: 4 });
afterAll(() => schema.drop());

storeConformance('postgres', async () => {
  const store = await schema.open();
  return { store, cleanup: () => store.close() };
});
