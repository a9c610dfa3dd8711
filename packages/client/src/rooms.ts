import { errorFromServer, type MastClientError } from './errors.js';
import type { SocketPort } from './calls.js';

/** A member of a room as the server reports it. */
export interface RoomMember<P = unknown> {
  readonly userId: string;
  readonly connectionId: string;
  readonly state: P;
  readonly joinedAt: string;
}

/** What a room handle shows. */
export interface RoomState<P = unknown> {
  /** True once `joined` arrived on the current socket. */
  readonly joined: boolean;
  /** This socket's own presence state. */
  readonly presence: P;
  /** The other members (other sockets, including other tabs of the same user). */
  readonly others: readonly RoomMember<P>[];
  readonly error: MastClientError | null;
}

/** A broadcast received under a topic. */
export interface RoomBroadcast {
  readonly topic: string;
  readonly data: unknown;
  readonly from: { readonly userId: string; readonly connectionId: string };
}

/**
 * A joined room: presence state, the others' presence, broadcasts under topics. It is joined
 * again (with the last presence) on every new socket, and refreshes its presence as a heartbeat
 * so the server does not expire it. Presence set while offline is sent on rejoin, not dropped.
 */
export class Room<P = unknown> {
  readonly name: string;
  readonly #topics: readonly string[] | undefined;
  readonly #port: SocketPort;
  readonly #forget: (room: Room<P>) => void;
  #state: RoomState<P>;
  #connectionId: string | null = null;
  #joinId: string | null = null;
  #left = false;
  readonly #listeners = new Set<() => void>();
  readonly #broadcastListeners = new Set<(b: RoomBroadcast) => void>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(name: string, presence: P, topics: readonly string[] | undefined, port: SocketPort, heartbeatMs: number, forget: (room: Room<P>) => void) {
    this.name = name;
    this.#topics = topics;
    this.#port = port;
    this.#forget = forget;
    this.#state = { joined: false, presence, others: [], error: null };
    if (heartbeatMs > 0) {
      this.#heartbeat = setInterval(() => {
        if (this.#state.joined) this.#port.send({ type: 'presence', room: this.name });
      }, heartbeatMs);
      (this.#heartbeat as { unref?: () => void }).unref?.();
    }
  }

  get state(): RoomState<P> {
    return this.#state;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` for every broadcast this member receives. */
  onBroadcast(listener: (b: RoomBroadcast) => void): () => void {
    this.#broadcastListeners.add(listener);
    return () => this.#broadcastListeners.delete(listener);
  }

  /** Replaces this member's presence state; the others see it. */
  setPresence(state: P): void {
    this.#set({ ...this.#state, presence: state });
    if (this.#state.joined) this.#port.send({ type: 'presence', room: this.name, state });
  }

  /** Sends `data` under `topic` to the other members listening to it; false when not joined. */
  broadcast(topic: string, data: unknown): boolean {
    if (!this.#state.joined) return false;
    return this.#port.send({ type: 'broadcast', room: this.name, topic, data });
  }

  /** Leaves the room. */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    clearInterval(this.#heartbeat);
    this.#forget(this);
    if (this.#state.joined) this.#port.send({ type: 'leave', id: this.#port.nextId('l'), room: this.name });
  }

  /** Sends `join` (on every new socket). */
  join(): void {
    if (this.#left) return;
    this.#joinId = this.#port.nextId('j');
    this.#port.send({ type: 'join', id: this.#joinId, room: this.name, presence: this.#state.presence, ...(this.#topics ? { topics: this.#topics } : {}) });
  }

  /** The socket went away: nobody is known to be here until the next `joined`. */
  down(): void {
    this.#set({ ...this.#state, joined: false, others: [] });
  }

  /** Handles a room message; the client routes by room name. */
  handle(m: Record<string, unknown>): void {
    if (m.type === 'joined' && m.id === this.#joinId) {
      this.#connectionId = typeof m.connectionId === 'string' ? m.connectionId : null;
      const members = (Array.isArray(m.members) ? m.members : []) as RoomMember<P>[];
      this.#set({ ...this.#state, joined: true, error: null, others: members.filter((x) => x.connectionId !== this.#connectionId) });
      // Presence set between join and joined was not sent: send the latest now.
      const mine = members.find((x) => x.connectionId === this.#connectionId);
      if (mine && JSON.stringify(mine.state) !== JSON.stringify(this.#state.presence)) this.#port.send({ type: 'presence', room: this.name, state: this.#state.presence });
    } else if (m.type === 'presence') {
      const member = m.member as RoomMember<P>;
      if (member.connectionId === this.#connectionId) {
        if (m.event === 'leave') this.#set({ ...this.#state, joined: false, others: [] }); // expired
        return;
      }
      const others = this.#state.others.filter((x) => x.connectionId !== member.connectionId);
      if (m.event !== 'leave') others.push(member);
      this.#set({ ...this.#state, others });
    } else if (m.type === 'broadcast') {
      const b: RoomBroadcast = { topic: String(m.topic), data: m.data, from: m.from as RoomBroadcast['from'] };
      for (const listener of [...this.#broadcastListeners]) listener(b);
    } else if (m.type === 'error') {
      if (m.code === 'NOT_IN_ROOM' && !this.#left) {
        this.join(); // expired meanwhile: join again
        return;
      }
      this.#set({ ...this.#state, error: errorFromServer(m) });
    }
  }

  #set(state: RoomState<P>): void {
    this.#state = state;
    for (const listener of [...this.#listeners]) listener();
  }
}
