/**
 * Requests described as data, so they can cross the IPC channel to the load generator: a path
 * and body in which `{id}` becomes a random id from the pool, `{seq}` a counter, `{bool}` a
 * random boolean and `{int:a:b}` a random integer in [a, b].
 */
export interface RequestTemplate {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly body?: string;
  /** Extra request headers, e.g. `authorization` for a signed-in caller. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The status every response must have; anything else is counted as an error. */
  readonly expectStatus: number;
}

/** Where template values come from: random picks and a counter, shared by a whole run. */
export interface ValueSource {
  /** A random id from the pool of existing rows. */
  id(): string;
  /** The next value of a process-wide counter. */
  seq(): number;
  /** A random integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  /** A random boolean. */
  bool(): boolean;
}

/** A value source over an id pool, with Math.random (the distribution, not secrecy, matters). */
export function createValueSource(ids: readonly string[]): ValueSource {
  let counter = 0;
  return {
    id: () => {
      if (ids.length === 0) throw new Error('the id pool is empty');
      return ids[Math.floor(Math.random() * ids.length)]!;
    },
    seq: () => ++counter,
    int: (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1)),
    bool: () => Math.random() < 0.5,
  };
}

const PLACEHOLDER = /\{(id|seq|bool|int:(-?\d+):(-?\d+))\}/g;

/** Replaces the placeholders of one template string with fresh values. */
export function expand(text: string, source: ValueSource): string {
  return text.replace(PLACEHOLDER, (_match, name: string, lo: string | undefined, hi: string | undefined) => {
    if (name === 'id') return source.id();
    if (name === 'seq') return String(source.seq());
    if (name === 'bool') return String(source.bool());
    return String(source.int(Number(lo), Number(hi)));
  });
}
