import { useCallback, useRef, useState, useSyncExternalStore } from 'react';
import { queryKey, type CachedRow, type Filter, type LiveQuery, type MastClientError, type QueryState } from '@mast/client';
import { useMastClient } from './provider.js';
import { holdForSuspense, release } from './suspense-holds.js';

const LOADING: QueryState<never> = Object.freeze({ rows: Object.freeze([]) as readonly never[], loading: true, error: null, complete: false, fromCache: false });

/** Options of the query hooks. */
export interface QueryHookOptions {
  /**
   * Suspend while the first result is loading (a `<Suspense>` boundary shows its fallback) and
   * throw a refused query's error to the nearest error boundary. Off by default: without it the
   * hook returns `loading: true` and needs no Suspense.
   */
  readonly suspense?: boolean;
}

/** A live query's state and `loadMore`. */
export type QueryResult<R> = QueryState<R> & { loadMore: (by?: number) => Promise<void> };

/**
 * A live query's state: rows (pending writes included), `loading`, `error`, `complete`, and
 * `loadMore`. The query is opened when the component subscribes and closed when it unsubscribes
 * (identical queries share one subscription); the state object changes only when the rows do.
 * While a changed filter's query has not answered, it shows the state of an identical query
 * some other component already holds, or loading.
 */
export function useQuery<R extends CachedRow = CachedRow>(entity: string, filter?: Filter, options: QueryHookOptions = {}): QueryResult<R> {
  const client = useMastClient();
  const key = queryKey(entity, filter);
  const held = useRef<{ key: string; query: LiveQuery<R> } | null>(null);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  const subscribe = useCallback(
    (onChange: () => void) => {
      const query = client.query<R>(entity, filterRef.current);
      held.current = { key, query };
      // The component holds the query now: a hold made while it was suspended can go.
      release(client, key);
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
  if (options.suspense && held.current?.key !== key) {
    const query = holdForSuspense(client, entity, filter) as LiveQuery<R>;
    if (query.state.error) throw query.state.error;
    if (query.state.loading) throw query.ready();
  } else if (options.suspense && state.error) throw state.error;
  const loadMore = useCallback((by?: number) => held.current?.query.loadMore(by) ?? Promise.resolve(), []);
  const current = options.suspense && held.current?.key !== key ? (client.peek<R>(entity, filter) ?? state) : state;
  return { ...current, loadMore };
}

/** One row by id (null when absent or not readable), with `loading` and `error`. */
export function useQueryOne<R extends CachedRow = CachedRow>(
  entity: string,
  id: string,
  options: QueryHookOptions = {},
): { row: R | null; loading: boolean; error: MastClientError | null } {
  const state = useQuery<R>(entity, { id }, options);
  return { row: state.rows[0] ?? null, loading: state.loading, error: state.error };
}

/** Where a paginated query stands. */
export type PaginationStatus = 'loading' | 'can-load-more' | 'loading-more' | 'exhausted';

/**
 * A live query read page by page: `filter` must order the rows (`$order`); the first
 * `pageSize` rows are subscribed, and `loadMore()` grows the live window by a page (by `n`
 * rows when given). Every row shown stays live. `status` says whether more can be loaded.
 */
export function usePaginatedQuery<R extends CachedRow = CachedRow>(
  entity: string,
  filter: Filter,
  options: QueryHookOptions & { readonly pageSize: number },
): QueryState<R> & { status: PaginationStatus; loadMore: (n?: number) => Promise<void> } {
  if (!filter.$order) throw new Error('usePaginatedQuery: the filter needs $order (pages of an unordered query are not defined)');
  if (!Number.isInteger(options.pageSize) || options.pageSize < 1) throw new Error('usePaginatedQuery: pageSize must be a positive integer');
  const { $limit: _ignored, ...rest } = filter;
  const state = useQuery<R>(entity, { ...rest, $limit: options.pageSize }, options.suspense ? { suspense: true } : {});
  const [more, setMore] = useState(0);
  const inner = state.loadMore;
  const loadMore = useCallback(
    async (n?: number) => {
      setMore((m) => m + 1);
      try {
        await inner(n ?? options.pageSize);
      } finally {
        setMore((m) => m - 1);
      }
    },
    [inner, options.pageSize],
  );
  const status: PaginationStatus = state.loading ? 'loading' : more > 0 ? 'loading-more' : state.complete ? 'exhausted' : 'can-load-more';
  return { ...state, status, loadMore };
}
