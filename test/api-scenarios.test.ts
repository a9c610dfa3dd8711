import { describe } from 'vitest';
import { runScenarios, type Scenario } from './helpers/scenarios.js';
import { testManifest } from './helpers/test-server.js';

// HTTP-only cases of the entity API, run in process through inject(): each row states the
// request, the answer, and exactly what the request appended to the change log.
const todo = (id: string, extra: Record<string, unknown> = {}) => ({ id, title: `todo ${id}`, done: false, ...extra });

const TABLE: Scenario[] = [
  {
    name: 'an insert answers 201 with the id and appends one insert',
    method: 'POST',
    url: '/api/entities/Todo',
    body: todo('t1'),
    status: 201,
    json: { id: 't1' },
    events: [{ entity: 'Todo', kind: 'insert', rowId: 't1' }],
  },
  { name: 'the row reads back', method: 'GET', url: '/api/entities/Todo/t1', status: 200, json: { id: 't1', title: 'todo t1', done: false } },
  { name: 'the same id again is 409 and appends nothing', method: 'POST', url: '/api/entities/Todo', body: todo('t1'), status: 409, code: 'UNIQUE_VIOLATION' },
  { name: 'a wrong type is 400 INVALID_FIELD_TYPE', method: 'POST', url: '/api/entities/Todo', body: { title: 42, done: false }, status: 400, code: 'INVALID_FIELD_TYPE' },
  { name: 'a missing required field is 400 MISSING_FIELD', method: 'POST', url: '/api/entities/Todo', body: { done: false }, status: 400, code: 'MISSING_FIELD' },
  { name: 'an unknown field is 400 INVALID_COLUMN', method: 'POST', url: '/api/entities/Todo', body: { title: 'x', done: false, nope: 1 }, status: 400, code: 'INVALID_COLUMN' },
  { name: 'an unknown entity is 400 ENTITY_NOT_FOUND', method: 'POST', url: '/api/entities/Nope', body: {}, status: 400, code: 'ENTITY_NOT_FOUND' },
  { name: 'a body that is not JSON is 400 INVALID_JSON', method: 'POST', url: '/api/entities/Todo', rawBody: '{"title":', status: 400, code: 'INVALID_JSON' },
  {
    name: 'a patch appends one update',
    method: 'PATCH',
    url: '/api/entities/Todo/t1',
    body: { done: true },
    status: 200,
    events: [{ entity: 'Todo', kind: 'update', rowId: 't1' }],
  },
  { name: 'a patch of a missing row is 404 and appends nothing', method: 'PATCH', url: '/api/entities/Todo/missing', body: { done: true }, status: 404, code: 'NOT_FOUND' },
  { name: 'a patch with no fields is 400 INVALID_DATA and appends nothing', method: 'PATCH', url: '/api/entities/Todo/t1', body: {}, status: 400, code: 'INVALID_DATA' },
  {
    name: 'a unique value taken by another row is 409',
    method: 'POST',
    url: '/api/entities/Todo',
    body: todo('t2', { slug: 's' }),
    status: 201,
    events: [{ entity: 'Todo', kind: 'insert', rowId: 't2' }],
  },
  { name: '…and a second row with it is refused', method: 'POST', url: '/api/entities/Todo', body: todo('t3', { slug: 's' }), status: 409, code: 'UNIQUE_VIOLATION' },
  {
    name: 'transact commits all its operations in order',
    method: 'POST',
    url: '/api/transact',
    body: {
      operations: [
        { op: 'insert', entity: 'Todo', data: todo('t4') },
        { op: 'update', entity: 'Todo', id: 't4', data: { done: true } },
        { op: 'delete', entity: 'Todo', id: 't2' },
      ],
    },
    status: 200,
    events: [
      { entity: 'Todo', kind: 'insert', rowId: 't4' },
      { entity: 'Todo', kind: 'update', rowId: 't4' },
      { entity: 'Todo', kind: 'delete', rowId: 't2' },
    ],
  },
  {
    name: 'transact with one failing operation commits none',
    method: 'POST',
    url: '/api/transact',
    body: {
      operations: [
        { op: 'insert', entity: 'Todo', data: todo('t5') },
        { op: 'insert', entity: 'Todo', data: { title: 1 } },
      ],
    },
    status: 400,
  },
  { name: 'transact without operations is 400 MISSING_OPERATIONS', method: 'POST', url: '/api/transact', body: { nope: 1 }, status: 400, code: 'MISSING_OPERATIONS' },
  { name: 'a delete appends one delete', method: 'DELETE', url: '/api/entities/Todo/t4', status: 200, events: [{ entity: 'Todo', kind: 'delete', rowId: 't4' }] },
  { name: 'a deleted row is 404', method: 'GET', url: '/api/entities/Todo/t4', status: 404, code: 'NOT_FOUND' },
  { name: 'a query with an unknown operator is 400 INVALID_QUERY', method: 'POST', url: '/api/query/Todo', body: { done: { $nope: 1 } }, status: 400, code: 'INVALID_QUERY' },
  { name: 'a query finds the rows that match', method: 'POST', url: '/api/query/Todo', body: { done: true }, status: 200, json: [{ id: 't1', done: true }] },
  { name: 'an unknown route is 404 in the envelope', method: 'GET', url: '/api/nope', status: 404, code: 'NOT_FOUND' },
  { name: 'admin routes refuse a caller without the admin token', method: 'GET', url: '/api/jobs', status: 403, code: 'FORBIDDEN' },
  { name: '…before reading its body', method: 'POST', url: '/api/policy/explain', rawBody: '{not json', status: 403, code: 'FORBIDDEN' },
];

describe('entity API scenarios (in process)', () => {
  runScenarios(testManifest, TABLE);
});
