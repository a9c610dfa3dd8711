import { useCallback, useRef, useSyncExternalStore } from 'react';
import { applyTextChange, type DocHandle, type DocStatus, type MastClientError } from '@mast/client';
import { useMastClient } from './provider.js';

type DocSnapshot = { doc: DocHandle['doc'] | null; status: DocStatus; error: MastClientError | null };

/** A CRDT row's Loro document, re-rendering when it changes; null until the component subscribed. */
export function useDoc(entity: string, id: string): DocSnapshot {
  const client = useMastClient();
  const key = `${entity}\u0000${id}`;
  const held = useRef<{ key: string; snapshot: DocSnapshot } | null>(null);
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
  const EMPTY = useRef<DocSnapshot>({ doc: null, status: 'loading', error: null }).current;
  return useSyncExternalStore(
    subscribe,
    () => (held.current?.key === key ? held.current.snapshot : EMPTY),
    () => EMPTY,
  );
}

/** What `useText` returns. */
export interface TextHook {
  /** The text now (remote edits included); '' until the document is open. */
  readonly value: string;
  readonly status: DocStatus;
  readonly error: MastClientError | null;
  /**
   * Makes the text `next`: the difference from the current text goes in as one character-level
   * splice (never a whole-text replace) and is committed, so it syncs like any local edit.
   */
  setValue(next: string): void;
  /** Props for a plain `<textarea>` or `<input>`: `value` and an `onChange` that calls `setValue`. */
  readonly inputProps: { value: string; onChange: (event: { target: { value: string } }) => void };
}

/**
 * A Loro text of a CRDT row (a `richtext` field's text, `field`) kept in sync: re-renders when
 * it changes, locally or remotely, and turns each change of a text box into one splice.
 */
export function useText(entity: string, id: string, field: string): TextHook {
  const { doc, status, error } = useDoc(entity, id);
  const docRef = useRef(doc);
  docRef.current = doc;
  const value = useSyncExternalStore(
    useCallback((onChange: () => void) => (doc ? doc.subscribe(onChange) : () => {}), [doc]),
    () => (doc ? doc.getText(field).toString() : ''),
    () => '',
  );
  const setValue = useCallback(
    (next: string) => {
      const current = docRef.current;
      if (!current) return;
      if (applyTextChange(current.getText(field), next)) current.commit();
    },
    [field],
  );
  const onChange = useCallback((event: { target: { value: string } }) => setValue(event.target.value), [setValue]);
  return { value, status, error, setValue, inputProps: { value, onChange } };
}
