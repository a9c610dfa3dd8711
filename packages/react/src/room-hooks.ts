import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { MastClientError, Room, RoomBroadcast, RoomMember } from '@mast/client';
import { useMastClient } from './provider.js';

/** What `useRoom` returns. */
export interface RoomHook<P> {
  readonly joined: boolean;
  readonly presence: P;
  readonly others: readonly RoomMember<P>[];
  readonly error: MastClientError | null;
  setPresence(state: P): void;
  /** Sends `data` to the other members under `topic`; false when the socket is not open. */
  broadcast(topic: string, data: unknown): boolean;
}

/**
 * Joins `room` while the component is mounted, with `options.presence` as the first presence
 * and `options.topics` as the broadcast topics received; `options.onBroadcast` gets each
 * broadcast (the latest function is called, no re-join when it changes). Left on unmount.
 */
export function useRoom<P = unknown>(room: string, options: { presence?: P; topics?: readonly string[]; onBroadcast?: (b: RoomBroadcast) => void } = {}): RoomHook<P> {
  const client = useMastClient();
  const [handle, setHandle] = useState<Room<P> | null>(null);
  const initial = useRef(options.presence);
  const onBroadcast = useRef(options.onBroadcast);
  onBroadcast.current = options.onBroadcast;
  const topicsKey = JSON.stringify(options.topics ?? null);
  useEffect(() => {
    const topics = JSON.parse(topicsKey) as string[] | null;
    const r = client.room<P>(room, { ...(initial.current !== undefined ? { presence: initial.current } : {}), ...(topics ? { topics } : {}) });
    const off = r.onBroadcast((b) => onBroadcast.current?.(b));
    setHandle(r);
    return () => {
      off();
      r.leave();
      setHandle(null);
    };
  }, [client, room, topicsKey]);
  const EMPTY = useRef({ joined: false, presence: (options.presence ?? null) as P, others: [] as readonly RoomMember<P>[], error: null as MastClientError | null }).current;
  const state = useSyncExternalStore(
    useCallback((onChange: () => void) => (handle ? handle.subscribe(onChange) : () => {}), [handle]),
    () => (handle ? handle.state : EMPTY),
    () => EMPTY,
  );
  const setPresence = useCallback(
    (s: P) => {
      // Before the effect ran, the state becomes the first presence of the join.
      if (handle) handle.setPresence(s);
      else initial.current = s;
    },
    [handle],
  );
  const broadcast = useCallback((topic: string, data: unknown) => handle?.broadcast(topic, data) ?? false, [handle]);
  return { joined: state.joined, presence: state.presence, others: state.others, error: state.error, setPresence, broadcast };
}

/**
 * Joins `room` while the component is mounted: the others' presence, this member's own, and
 * functions to change it and to broadcast. The room is left on unmount.
 */
export function usePresence<P = unknown>(
  room: string,
  initial: P,
): { others: readonly RoomMember<P>[]; presence: P; joined: boolean; setPresence: (state: P) => void; broadcast: (topic: string, data: unknown) => boolean } {
  const r = useRoom<P>(room, { presence: initial });
  return { others: r.others, presence: r.presence, joined: r.joined, setPresence: r.setPresence, broadcast: r.broadcast };
}
