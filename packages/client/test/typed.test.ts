import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { WebSocket } from 'ws';
import { action, mutation, query, v } from '@mast/functions';
import { defineSchema, entity, field, policy } from '@mast/schema';
import { createClient, type ClientOptions, type LiveQuery, type MastClient, type TypedClient, type WebSocketConstructor, type Watch } from '../src/index.js';
import { startTestServer, type TestServer } from '../../../test/helpers/test-server.js';
import { deployFunctions } from '../../../test/helpers/functions-app.js';
import { ADMIN, tokenFor } from './harness.js';

const Task = entity('Task', {
  title: field.string(),
  done: field.boolean(),
  estimate: field.int().optional(),
  tags: field.json<string[]>().optional(),
});
const schema = defineSchema({
  name: 'typed',
  version: '1',
  entities: [Task],
  policies: [policy({ name: 'open', entity: 'Task', allow: 'auth.userId != null' })],
});

// The app's function files, as a client imports their types.
const functions = {
  addTask: mutation({ args: { title: v.string() }, handler: async (ctx, a) => ({ id: await ctx.db.insert('Task', { title: a.title, done: false }) }) }),
  openTitles: query({ handler: async (ctx) => (await ctx.db.query('Task', { done: false })).map((r) => String(r.title)) }),
  shout: action({ args: { text: v.string() }, handler: async (_ctx, a) => a.text.toUpperCase() }),
};

type TaskRow = { id: string; title: string; done: boolean; estimate?: number | null; tags?: string[] | null };

describe('types from the schema and functions, without codegen', () => {
  it('types entities, rows, filters, writes and function calls', () => {
    // Type-level only: never called, so nothing connects.
    const typed = (o: ClientOptions) => createClient<typeof schema, typeof functions>(o);
    const plain = (o: ClientOptions) => createClient(o);
    expectTypeOf<ReturnType<typeof typed>>().toEqualTypeOf<TypedClient<typeof schema, typeof functions>>();
    expectTypeOf<ReturnType<typeof plain>>().toEqualTypeOf<MastClient>();

    const checks = (client: TypedClient<typeof schema, typeof functions>): void => {
      expectTypeOf(client.query('Task', { done: false })).toEqualTypeOf<LiveQuery<TaskRow>>();
      expectTypeOf(client.query('Task').rows[0]!.estimate).toEqualTypeOf<number | null | undefined>();
      expectTypeOf(client.insert<'Task'>)
        .parameter(1)
        .toEqualTypeOf<{ title: string; done: boolean; estimate?: number | null; tags?: string[] | null } & { id?: string }>();
      expectTypeOf(client.mutation('addTask', { title: 'x' })).resolves.toEqualTypeOf<{ id: string }>();
      expectTypeOf(client.watch('openTitles', {})).toEqualTypeOf<Watch<string[]>>();
      expectTypeOf(client.action('shout', { text: 'hi' })).resolves.toEqualTypeOf<string>();
      client.query('Task', { title: { $like: 'a%' }, estimate: { $gte: 2 }, $or: [{ done: true }, { tags: null }], $order: { title: 'asc' }, $limit: 10 });

      // Wrong names, fields, values and arguments do not compile.
      // @ts-expect-error an entity the schema does not declare
      client.query('Nope');
      // @ts-expect-error a field Task does not have
      client.query('Task', { colour: 'red' });
      // @ts-expect-error a value of the wrong type
      client.query('Task', { done: 'yes' });
      // @ts-expect-error $order on an unknown field
      client.query('Task', { $order: { colour: 'asc' } });
      // @ts-expect-error a required field missing
      client.insert('Task', { title: 'x' });
      // @ts-expect-error args of the wrong type
      client.mutation('addTask', { title: 1 });
      // @ts-expect-error a query function is not a mutation
      client.mutation('openTitles', {});
      // @ts-expect-error a mutation cannot be watched
      client.watch('addTask', { title: 'x' });
    };
    expect(typeof checks).toBe('function');
  });
});

describe('a typed client against a real server', () => {
  let t: TestServer;
  let client: TypedClient<typeof schema, typeof functions>;
  beforeAll(async () => {
    t = await startTestServer(schema.manifest, { adminToken: ADMIN });
    const set = await deployFunctions(t, {
      addTask: `export default mutation({ args: { title: v.string() }, handler: async (ctx, a) => ({ id: await ctx.db.insert('Task', { title: a.title, done: false }) }) });`,
    });
    expect(set.errors).toEqual([]);
    client = createClient<typeof schema, typeof functions>({ url: t.url, auth: await tokenFor(t, 'ann'), WebSocket: WebSocket as unknown as WebSocketConstructor });
  });
  afterAll(async () => {
    await client.close();
    await t.close();
  });

  it('reads and writes typed rows', async () => {
    const q = client.query('Task', { done: false, $order: { title: 'asc' } });
    await q.ready();
    const { id } = await client.mutation('addTask', { title: 'typed' });
    await client.insert('Task', { title: 'also typed', done: false, tags: ['a'] });
    await client.sync();
    expect(q.rows.map((r) => r.title)).toEqual(['also typed', 'typed']);
    expect(q.rows.find((r) => r.id === id)?.done).toBe(false);
    q.close();
  });
});
