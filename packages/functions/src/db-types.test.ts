import { defineSchema, entity, field } from '@mast/schema';
import { describe, expectTypeOf, it } from 'vitest';
import type { DbReader, DbWriter, RegisteredTables, Row, TablesOf } from './db-types.js';

// Type tests: `npm run typecheck` fails when a line marked @ts-expect-error compiles, or when an
// expectTypeOf does not hold. The calls below never run (the db is a declared value).

const schema = defineSchema({
  name: 'chat',
  version: '1',
  entities: [entity('Room', { title: field.string() }), entity('Message', { room: field.id('Room'), body: field.string(), meta: field.json<{ pinned: boolean }>().optional() })],
});

type Tables = TablesOf<typeof schema>;
declare const db: DbWriter<Tables>;
declare const untyped: DbWriter;

async function typed(): Promise<void> {
  expectTypeOf(await db.get('Message', 'm1')).toEqualTypeOf<{ id: string; room: string; body: string; meta?: { pinned: boolean } | null } | null>();
  expectTypeOf(await db.query('Room', { title: 'x' })).toEqualTypeOf<{ id: string; title: string }[]>();
  expectTypeOf(await db.list('Room')).toEqualTypeOf<{ id: string; title: string }[]>();
  await db.insert('Message', { room: 'r1', body: 'hi' });
  await db.insert('Message', { id: 'm2', room: 'r1', body: 'hi', meta: { pinned: true } });
  await db.update('Message', 'm1', { body: 'edited' });
  await db.lookup('Room', 'title', 'general');

  // @ts-expect-error an entity the schema does not declare
  await db.insert('Mesage', { body: 'x' });
  // @ts-expect-error a misspelled field
  await db.insert('Message', { room: 'r1', bdy: 'x' });
  // @ts-expect-error a field of the wrong type
  await db.insert('Message', { room: 'r1', body: 1 });
  // @ts-expect-error a required field left out
  await db.insert('Message', { body: 'x' });
  // @ts-expect-error an update of a field the entity does not have
  await db.update('Message', 'm1', { bdy: 'x' });
  // @ts-expect-error a lookup on a field the entity does not have
  await db.lookup('Room', 'name', 'general');
  // @ts-expect-error a lookup value of the wrong type
  await db.lookup('Room', 'title', 5);
  // @ts-expect-error reading an entity the schema does not declare
  await db.get('Rooms', 'r1');
  // @ts-expect-error a reader cannot write
  await (db as DbReader<Tables>).insert('Room', { title: 'x' });
}

async function withoutRegistration(): Promise<void> {
  // No `Register` declaration in this program: any entity, rows of unknown values.
  expectTypeOf<RegisteredTables>().toEqualTypeOf<{ [entity: string]: Row }>();
  expectTypeOf(await untyped.get('Anything', 'x')).toEqualTypeOf<Row | null>();
  await untyped.insert('Anything', { whatever: 1 });
}

describe('ctx.db types', () => {
  it('are checked by the type checker (this file compiles only if they hold)', () => {
    expectTypeOf(typed).toBeFunction();
    expectTypeOf(withoutRegistration).toBeFunction();
  });
});
