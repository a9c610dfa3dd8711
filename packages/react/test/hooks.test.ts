import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { act, Component, createElement, Suspense, type ReactNode } from 'react';
import { create, type ReactTestRenderer } from 'react-test-renderer';
import { renderToString } from 'react-dom/server';
import type { MastClient, RoomBroadcast } from '@mast/client';
import { MastProvider, useAction, useAuth, usePaginatedQuery, useQuery, useRoom, useText } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { deployFunctions } from '../../../test/helpers/functions-app.js';
import { clientOf, startServer, tokenFor, until } from '../../client/test/harness.js';

// The hooks rendered by React's reconciler (react-test-renderer) against a real server, and the
// server renderer (react-dom/server) for what must not subscribe.
let t: TestServer;
let ann: MastClient;
let other: MastClient;

beforeAll(async () => {
  t = await startServer();
  const set = await deployFunctions(t, {
    double: `export default action({ args: { n: v.number() }, handler: async (ctx, a) => a.n * 2 });`,
  });
  expect(set.errors).toEqual([]);
  const token = await tokenFor(t, 'ann');
  ann = clientOf(t, { auth: token });
  other = clientOf(t, { auth: token });
  await Promise.all([ann.connected(), other.connected()]);
  for (let i = 0; i < 7; i++) await other.insert('Todo', { id: `p${i}`, title: `t${i}`, done: false, rank: i, ownerId: 'ann' });
});
afterAll(async () => {
  await ann.close();
  await other.close();
  await t.close();
});

function render(client: MastClient, node: ReactNode): ReactTestRenderer {
  let renderer!: ReactTestRenderer;
  act(() => {
    renderer = create(createElement(MastProvider, { client }, node));
  });
  return renderer;
}

const text = (r: ReactTestRenderer): string => JSON.stringify(r.toJSON());

class Boundary extends Component<{ children?: ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error): { error: Error } {
    return { error };
  }
  override render(): ReactNode {
    return this.state.error ? createElement('p', null, `error:${(this.state.error as { code?: string }).code}`) : this.props.children;
  }
}

describe('@mast/react hooks', () => {
  it('usePaginatedQuery: a first page, then more pages, every row live, until exhausted', async () => {
    let more!: (n?: number) => Promise<void>;
    function Pages(): ReactNode {
      const { rows, status, loadMore } = usePaginatedQuery<{ id: string; title: string }>('Todo', { $order: { rank: 'asc' } }, { pageSize: 3 });
      more = loadMore;
      return createElement('p', null, `${status}|${rows.map((r) => r.title).join(',')}`);
    }
    const r = render(ann, createElement(Pages));
    await until(() => text(r).includes('can-load-more|t0,t1,t2"'), 'the first page');
    let done!: Promise<void>;
    act(() => {
      done = more();
    });
    expect(text(r)).toContain('loading-more|');
    await act(() => done);
    expect(text(r)).toContain('can-load-more|t0,t1,t2,t3,t4,t5"');
    // A row changed elsewhere on a loaded page shows at once.
    await other.update('Todo', 'p4', { title: 'T4' });
    await until(() => text(r).includes('t3,T4,t5'), 'the live change on page two');
    await act(() => more());
    expect(text(r)).toContain('exhausted|t0,t1,t2,t3,T4,t5,t6"');
    act(() => r.unmount());
    expect(() => usePaginatedQuery('Todo', {}, { pageSize: 3 })).toThrow(/\$order/);
  });

  it('useAction: calls an action over the socket; a refusal rejects with its code', async () => {
    let call!: (args: { n: number }) => Promise<number>;
    function Calls(): ReactNode {
      call = useAction<{ n: number }, number>('double');
      return null;
    }
    const r = render(ann, createElement(Calls));
    expect(await call({ n: 21 })).toBe(42);
    await expect(call({ n: 'x' as unknown as number })).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    act(() => r.unmount());
  });

  it('useRoom: presence of others, and broadcasts under a topic to the latest handler', async () => {
    const got: RoomBroadcast[] = [];
    let send!: (topic: string, data: unknown) => boolean;
    function Chat(): ReactNode {
      const room = useRoom<{ name: string }>('chat:1', { presence: { name: 'Ann' }, topics: ['msg'], onBroadcast: (b) => got.push(b) });
      send = room.broadcast;
      return createElement('p', null, `${room.joined}|${room.others.map((o) => o.state.name).join(',')}`);
    }
    const r = render(ann, createElement(Chat));
    await until(() => text(r).includes('true|'), 'joined');
    const peer = other.room<{ name: string }>('chat:1', { presence: { name: 'Bob' }, topics: ['msg'] });
    await until(() => text(r).includes('true|Bob'), "the other member's presence");
    await until(() => peer.state.others.length === 1, 'the peer seeing ann');
    peer.broadcast('msg', { text: 'hi' });
    await until(() => got.length === 1, 'the broadcast');
    expect(got[0]).toMatchObject({ topic: 'msg', data: { text: 'hi' } });
    expect(send('msg', { text: 'back' })).toBe(true);
    peer.leave();
    await until(() => text(r).includes('true|"'), 'the other member gone');
    act(() => r.unmount());
  });

  it('useText: a text box edit goes in as a splice, so a concurrent remote edit survives', async () => {
    await ann.insert('Note', { id: 'nt', title: 'n', body: 'hello world' });
    let props!: { value: string; onChange: (e: { target: { value: string } }) => void };
    function Editor(): ReactNode {
      const { value, status, inputProps } = useText('Note', 'nt', 'body');
      props = inputProps;
      return createElement('textarea', { value: `${status}|${value}`, readOnly: true });
    }
    const r = render(ann, createElement(Editor));
    await until(() => text(r).includes('synced|hello world'), 'the text');
    const remote = other.doc('Note', 'nt');
    await remote.ready();
    // Both edit at once: the remote prepends, the text box appends.
    remote.doc.getText('body').insert(0, 'Oh, ');
    remote.doc.commit();
    act(() => props.onChange({ target: { value: 'hello world!' } }));
    await until(() => text(r).includes('synced|Oh, hello world!'), 'both edits in the text box');
    await until(() => remote.doc.getText('body').toString() === 'Oh, hello world!', 'both edits on the other client');
    await ann.flush();
    const stored = await t.request('GET', '/api/entities/Note/nt', { headers: { authorization: `Bearer ${await tokenFor(t, 'ann')}` } });
    expect((stored.json as { body: string }).body).toBe('Oh, hello world!');
    remote.close();
    act(() => r.unmount());
  });

  it('useAuth: re-renders when the user signs in and out', async () => {
    const anon = clientOf(t);
    await anon.connected();
    function Who(): ReactNode {
      const { userId, signedIn } = useAuth();
      return createElement('p', null, `${signedIn}|${userId}`);
    }
    const r = render(anon, createElement(Who));
    expect(text(r)).toContain('false|null');
    // The test server has no guest sign-in without dev mode: a minted session adopted with setAuth.
    await act(async () => anon.setAuth(await tokenFor(t, 'zed')));
    expect(text(r)).toContain('true|zed');
    await act(() => anon.auth.signOut());
    expect(text(r)).toContain('false|null');
    act(() => r.unmount());
    await anon.close();
  });

  it('Suspense mode: the fallback until the first result, rows only after; a refused query reaches the error boundary', async () => {
    const rendered: string[] = [];
    function Todos(): ReactNode {
      const { rows, loading } = useQuery<{ id: string; title: string }>('Todo', { rank: { $lt: 2 }, $order: { rank: 'asc' } }, { suspense: true });
      rendered.push(loading ? 'loading' : rows.map((x) => x.title).join(','));
      return createElement('p', null, rows.map((x) => x.title).join(','));
    }
    const fresh = clientOf(t, { auth: await tokenFor(t, 'ann') });
    const r = render(fresh, createElement(Suspense, { fallback: createElement('p', null, 'fallback') }, createElement(Todos)));
    expect(text(r)).toContain('fallback');
    await until(() => text(r).includes('t0,t1'), 'the rows after suspending');
    expect(rendered).not.toContain('loading');
    await until(() => fresh.cachedRowCount === 2, 'one subscription holding the rows');
    act(() => r.unmount());
    await until(() => fresh.cachedRowCount === 0, 'the query closed on unmount, the suspense hold released');

    function Bad(): ReactNode {
      useQuery('Todo', { nope: 1 }, { suspense: true });
      return createElement('p', null, 'never');
    }
    const b = render(fresh, createElement(Boundary, null, createElement(Suspense, { fallback: 'fallback' }, createElement(Bad))));
    await until(() => text(b).includes('error:INVALID_COLUMN'), 'the error boundary');
    act(() => b.unmount());
    // Without suspense the same query renders loading on the server, and the default stays no Suspense.
    function Plain(): ReactNode {
      const { loading } = useQuery('Todo');
      return createElement('p', null, loading ? 'loading' : 'ready');
    }
    expect(renderToString(createElement(MastProvider, { client: fresh }, createElement(Plain)))).toBe('<p>loading</p>');
    await fresh.close();
  });
});
