import { useCallback, useRef, useSyncExternalStore } from 'react';
import type { AuthClient, CallOptions, ClientStatus, MutationOptions, WatchState } from '@mast/client';
import { useMastClient } from './provider.js';

/** A stable function calling mutation `name` (with its op id, optimistic change and rollback). */
export function useMutation<A extends Record<string, unknown> = Record<string, unknown>, T = unknown>(name: string): (args: A, options?: MutationOptions) => Promise<T> {
  const client = useMastClient();
  return useCallback((args: A, options?: MutationOptions) => client.mutation(name, args, options) as Promise<T>, [client, name]);
}

/**
 * A stable function calling action `name` over the socket, once (an action in flight when the
 * socket drops fails with `CONNECTION_LOST`, since running it twice may not be safe); chunks of
 * a streaming action arrive through `options.onChunk`, and `options.signal` cancels it.
 */
export function useAction<A extends Record<string, unknown> = Record<string, unknown>, T = unknown>(name: string): (args: A, options?: CallOptions) => Promise<T> {
  const client = useMastClient();
  return useCallback((args: A, options?: CallOptions) => client.action(name, args, options) as Promise<T>, [client, name]);
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

/**
 * Who is signed in (`userId`: null when anonymous, undefined until the server said), the
 * selected org, and the client's auth flows (`auth.guest()`, `auth.login(…)`,
 * `auth.signOut()`, …). Re-renders when the user or org changes.
 */
export function useAuth(): { userId: string | null | undefined; tenantId: string | null; signedIn: boolean; auth: AuthClient } {
  const status = useConnectionStatus();
  const client = useMastClient();
  return { userId: status.userId, tenantId: status.tenantId, signedIn: typeof status.userId === 'string', auth: client.auth };
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
