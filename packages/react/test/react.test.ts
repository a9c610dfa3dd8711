import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createElement, type ReactNode } from 'react';
import { create, type ReactTestRenderer } from 'react-test-renderer';
import { renderToString } from 'react-dom/server';
import type { MastClient } from '@mast/client';
import { MastProvider, useConnectionStatus, useDoc, useMutation, usePresence, useQuery, useQueryOne } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { deployFunctions } from '../../../test/helpers/functions-app.js';
import { clientOf, startServer, tokenFor, until } from '../../client/test/harness.js';

let t: TestServer;
let ann: MastClient;
let other: MastClient;

beforeAll(async () => {
  t = await startServer();
  const set = await deployFunctions(t, {
    rename: `export default mutation({ args: { id: v.string(), title: v.string() }, handler: async (ctx, a) => { await ctx.db.update('Todo', a.id, { title: a.title }); return null; } });`,
  });
  expect(set.errors).toEqual([]);
  const token = await tokenFor(t, 'ann');
  ann = clientOf(t, { auth: token });
  other = clientOf(t, { auth: token });
  await Promise.all([ann.connected(), other.connected()]);
});
afterAll(async () => {
  await ann.close();
  await other.close();
  await t.close();
});

function render(client: MastClient, node: ReactNode): ReactTestRenderer {
  let renderer!: ReactTestRenderer;
  renderer = create(createElement(MastProvider, { client }, node));
  return renderer;
}

const text = (r: ReactTestRenderer): string => JSON.stringify(r.toJSON());

describe('@mast/react', () => {
  it('renders a live query, its changes from elsewhere, and the connection status', async () => {
    function Todos(): ReactNode {
      const { rows, loading } = useQuery<{ id: string; title: string }>('Todo', { $order: { title: 'asc' } });
      const status = useConnectionStatus();
      return createElement('p', null, `${status.state}|${loading ? 'loading' : rows.map((r) => r.title).join(',')}`);
    }
    const r = render(ann, createElement(Todos));
    await until(() => text(r).includes('open|'), 'the first result');
    await other.insert('Todo', { id: 'r1', title: 'from elsewhere', done: false, ownerId: 'ann' });
    await until(() => text(r).includes('open|from elsewhere'), 'the row written by the other client');
    r.unmount();
    await until(() => ann.cachedRowCount === 0, 'the query closed on unmount');
  });

  it("shows a mutation's optimistic change at once and the server's row after", async () => {
    let call!: (args: { id: string; title: string }, options?: Parameters<ReturnType<typeof useMutation>>[1]) => Promise<unknown>;
    function One(): ReactNode {
      const { row } = useQueryOne<{ id: string; title: string }>('Todo', 'r1');
      call = useMutation('rename');
      return createElement('p', null, row ? row.title : '-');
    }
    const r = render(ann, createElement(One));
    await until(() => text(r).includes('from elsewhere'), 'the row');
    const done = call({ id: 'r1', title: 'renamed' }, { optimistic: (tx) => tx.update('Todo', 'r1', { title: 'renamed' }) });
    await until(() => text(r).includes('renamed'), 'the optimistic title');
    await done;
    await ann.sync();
    expect(text(r)).toContain('renamed');
    r.unmount();
  });

  it('keeps a CRDT document and presence live in components', async () => {
    await ann.insert('Note', { id: 'n1', title: 'n', body: 'hello' });
    function Note(): ReactNode {
      const { doc, status } = useDoc('Note', 'n1');
      const { others } = usePresence('note:n1', { name: 'Ann' });
      return createElement('p', null, `${status}|${doc ? doc.getText('body').toString() : ''}|${others.map((o) => (o.state as { name: string }).name).join(',')}`);
    }
    const r = render(ann, createElement(Note));
    await until(() => text(r).includes('synced|hello|'), 'the document');
    const room = other.room('note:n1', { presence: { name: 'Other tab' } });
    await until(() => text(r).includes('|Other tab'), 'the other member');
    const d = other.doc('Note', 'n1');
    await d.ready();
    d.doc.getText('body').insert(5, ' world');
    d.doc.commit();
    await until(() => text(r).includes('synced|hello world|'), 'the remote edit');
    room.leave();
    d.close();
    r.unmount();
  });

  it('renders loading on the server (no subscription during SSR)', () => {
    function Todos(): ReactNode {
      const { loading } = useQuery('Todo');
      return createElement('p', null, loading ? 'loading' : 'ready');
    }
    expect(renderToString(createElement(MastProvider, { client: ann }, createElement(Todos)))).toBe('<p>loading</p>');
  });
});
