import type { MastClientError, QueuedWrite } from '@mast/client';
import { useSyncExternalStore } from 'react';

/** A write the server refused, after the client rolled it back. */
export interface Failure {
  readonly at: number;
  readonly code: string;
  readonly message: string;
  /** What the write was, e.g. "update Todo 3f2…". */
  readonly what: string;
}

/** The refused writes of this page, newest first, shown until dismissed. */
class Failures {
  #list: readonly Failure[] = [];
  readonly #listeners = new Set<() => void>();

  get list(): readonly Failure[] {
    return this.#list;
  }

  report(error: MastClientError, write: QueuedWrite | null): void {
    const what = write ? describe(write) : 'a call';
    this.#list = [{ at: Date.now(), code: error.code, message: error.message, what }, ...this.#list].slice(0, 20);
    for (const listener of this.#listeners) listener();
  }

  dismiss(): void {
    this.#list = [];
    for (const listener of this.#listeners) listener();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };
}

function describe(write: QueuedWrite): string {
  return `${write.kind} ${write.entity} ${write.id}`;
}

/** The page's one list of refused writes; the client's `onError` feeds it. */
export const failures = new Failures();

/** The refused writes, re-rendering when one is added or they are dismissed. */
export function useFailures(): readonly Failure[] {
  return useSyncExternalStore(failures.subscribe, () => failures.list);
}
