import { createContext, createElement, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import {
  queryKey,
  type CachedRow,
  type ClientStatus,
  type DocHandle,
  type DocStatus,
  type Filter,
  type LiveQuery,
  type MastClient,
  type MastClientError,
  type MutationOptions,
  type QueryState,
  type Room,
  type RoomMember,
  type WatchState,
} from '@mast/client';

const ClientContext = createContext<MastClient | null>(null);

/** Makes `client` available to the hooks below it. */
export function MastProvider(props: { client: MastClient; children?: ReactNode }): ReactNode {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest `MastProvider`; throws outside one. */
export function useMastClient(): MastClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useMastClient: wrap the tree in <MastProvider client={…}>');
  return client;
}

const LOADING: QueryState<never> = Object.freeze({ rows: Object.freeze([]) as readonly never[], loading: true, error: null, complete: false, fromCache: false });

/**
 * A live query's state: rows (pending writes included), `loading`, `error`, `complete`, and
 * `loadMore`. The query is opened when the component subscribes and closed when it unsubscribes
 * (identical queries share one subscription); the state object changes only when the rows do.
 * While a changed filter's query has not answered, it shows the state of an identical query
 * some other component already holds, or loading.
 */
export function useQuery<R extends CachedRow = CachedRow>(entity: string, filter?: Filter): QueryState<R> & { loadMore: () => Promise<void> } {
  const client = useMastClient();
  const key = queryKey(entity, filter);
  const held = useRef<{ key: string; query: LiveQuery<R> } | null>(null);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  const subscribe = useCallback(
    (onChange: () => void) => {
      const query = client.query<R>(entity, filterRef.current);
      held.current = { key, query };
      const off = query.subscribe(onChange);
      onChange();
      return () => {
        off();
        query.close();
        if (held.current?.query === query) held.current = null;
      };
    },
    [client, key],
  );
  const getSnapshot = (): QueryState<R> => (held.current?.key === key ? held.current.query.state : (client.peek<R>(entity, filter) ?? (LOADING as QueryState<R>)));
  const state = useSyncExternalStore(subscribe, getSnapshot, () => LOADING as QueryState<R>);
  const loadMore = useCallback(() => held.current?.query.loadMore() ?? Promise.resolve(), []);
  return { ...state, loadMore };
}

/** One row by id (null when absent or not readable), with `loading` and `error`. */
export function useQueryOne<R extends CachedRow = CachedRow>(entity: string, id: string): { row: R | null; loading: boolean; error: MastClientError | null } {
  const state = useQuery<R>(entity, { id });
  return { row: state.rows[0] ?? null, loading: state.loading, error: state.error };
}

/** A stable function calling mutation `name` (with its op id, optimistic change and rollback). */
export function useMutation<A extends Record<string, unknown> = Record<string, unknown>, T = unknown>(name: string): (args: A, options?: MutationOptions) => Promise<T> {
  const client = useMastClient();
  return useCallback((args: A, options?: MutationOptions) => client.mutation(name, args, options) as Promise<T>, [client, name]);
}

/** The connection's state, pending writes and storage, re-rendering when they change. */
export function useConnectionStatus(): ClientStatus {
  const client = useMastClient();
  return useSyncExternalStore(
    useCallback((onChange: () => void) => client.onStatus(onChange), [client]),
    () => client.status,
    () => client.status,
  );
}

/** A query function kept live (`fn-watch`): its value, `loading` and `error`. */
export function useWatch<T = unknown>(name: string, args: Record<string, unknown> = {}): WatchState<T> {
  const client = useMastClient();
  const argsKey = JSON.stringify(args);
  const held = useRef<{ key: string; state: WatchState<T> } | null>(null);
  const key = `${name}\u0000${argsKey}`;
  const subscribe = useCallback(
    (onChange: () => void) => {
      const watch = client.watch<T>(name, JSON.parse(argsKey) as Record<string, unknown>);
      held.current = { key, state: watch.state };
      const off = watch.subscribe(() => {
        held.current = { key, state: watch.state };
        onChange();
      });
      return () => {
        off();
        watch.close();
      };
    },
    [client, key],
  );
  const LOADING_WATCH = useRef<WatchState<T>>({ value: undefined, loading: true, error: null }).current;
  return useSyncExternalStore(
    subscribe,
    () => (held.current?.key === key ? held.current.state : LOADING_WATCH),
    () => LOADING_WATCH,
  );
}

/** A CRDT row's Loro document, re-rendering when it changes; null until the component subscribed. */
export function useDoc(entity: string, id: string): { doc: DocHandle['doc'] | null; status: DocStatus; error: MastClientError | null } {
  const client = useMastClient();
  const key = `${entity}\u0000${id}`;
  const held = useRef<{ key: string; snapshot: { doc: DocHandle['doc'] | null; status: DocStatus; error: MastClientError | null } } | null>(null);
  const subscribe = useCallback(
    (onChange: () => void) => {
      const handle = client.doc(entity, id);
      const update = (): void => {
        held.current = { key, snapshot: { doc: handle.doc, status: handle.status, error: handle.error } };
        onChange();
      };
      const off = handle.subscribe(update);
      update();
      return () => {
        off();
        handle.close();
      };
    },
    [client, key],
  );
  const EMPTY = useRef({ doc: null, status: 'loading' as DocStatus, error: null }).current;
  return useSyncExternalStore(
    subscribe,
    () => (held.current?.key === key ? held.current.snapshot : EMPTY),
    () => EMPTY,
  );
}

/**
 * Joins `room` while the component is mounted: the others' presence, this member's own, and
 * functions to change it and to broadcast. The room is left on unmount.
 */
export function usePresence<P = unknown>(
  room: string,
  initial: P,
): { others: readonly RoomMember<P>[]; presence: P; joined: boolean; setPresence: (state: P) => void; broadcast: (topic: string, data: unknown) => boolean } {
  const client = useMastClient();
  const [handle, setHandle] = useState<Room<P> | null>(null);
  const initialRef = useRef(initial);
  useEffect(() => {
    const r = client.room<P>(room, { presence: initialRef.current });
    setHandle(r);
    return () => {
      r.leave();
      setHandle(null);
    };
  }, [client, room]);
  const EMPTY = useRef({ joined: false, presence: initial, others: [] as readonly RoomMember<P>[], error: null }).current;
  const state = useSyncExternalStore(
    useCallback((onChange: () => void) => (handle ? handle.subscribe(onChange) : () => {}), [handle]),
    () => (handle ? (handle.state as typeof EMPTY) : EMPTY),
    () => EMPTY,
  );
  const setPresence = useCallback((s: P) => handle?.setPresence(s), [handle]);
  const broadcast = useCallback((topic: string, data: unknown) => handle?.broadcast(topic, data) ?? false, [handle]);
  return { others: state.others, presence: state.presence, joined: state.joined, setPresence, broadcast };
}
