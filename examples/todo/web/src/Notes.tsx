import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import type { CachedRow } from '@mast/client';
import { useDoc, useMastClient, usePresence, useQuery } from '@mast/react';
import { LoroSyncPlugin } from 'loro-codemirror';
import type { LoroDoc } from 'loro-crdt';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Identity } from './identity.js';

/** A note: a title and a `richtext` body, a Loro text every editor edits character by character. */
interface Note extends CachedRow {
  readonly title: string;
  readonly body?: string | null;
}

/** Notes every signed-in user shares: a list, and the open note's editor with who is here. */
export function Notes(props: { identity: Identity }) {
  const client = useMastClient();
  const { rows } = useQuery<Note>('Note', { $order: { title: 'asc' } });
  // The open note is in the URL (#notes/<id>), so a reload opens it again.
  const [open, setOpenState] = useState<string | null>(() => (location.hash.startsWith('#notes/') ? decodeURIComponent(location.hash.slice(7)) : null));
  const setOpen = (id: string) => {
    history.replaceState(null, '', `#notes/${encodeURIComponent(id)}`);
    setOpenState(id);
  };
  const [title, setTitle] = useState('');
  const create = (event: FormEvent) => {
    event.preventDefault();
    const text = title.trim();
    if (text === '') return;
    setTitle('');
    void client
      .insert('Note', { title: text, body: '' }) // '' not null: a null richtext field ignores its text
      .then(({ id }) => setOpen(id))
      .catch(() => undefined);
  };
  return (
    <section>
      <form onSubmit={create}>
        <input aria-label="new note" placeholder="New note title" value={title} onChange={(e) => setTitle(e.target.value)} />
        <button type="submit">Create note</button>
      </form>
      <ul data-testid="notes">
        {rows.map((note) => (
          <li key={note.id}>
            <button type="button" onClick={() => setOpen(note.id)} aria-pressed={open === note.id}>
              {note.title}
            </button>
          </li>
        ))}
      </ul>
      {open && <NoteView key={open} id={open} identity={props.identity} />}
    </section>
  );
}

function NoteView(props: { id: string; identity: Identity }) {
  const { doc, status, error } = useDoc('Note', props.id);
  const { others, joined } = usePresence<{ name: string }>(`note:${props.id}`, { name: props.identity.label });
  return (
    <div>
      <p data-testid="presence">
        {joined ? 'Here: ' : 'Joining… '}
        {[props.identity.label, ...others.map((o) => o.state?.name ?? '?')].join(', ')}
      </p>
      {error && <p role="alert">{error.code}</p>}
      {/* A new document object (the server's, after a note created offline) gets a new editor. */}
      {doc ? <Editor doc={doc} /> : <p>{status === 'loading' ? 'Loading…' : status}</p>}
    </div>
  );
}

/** CodeMirror bound to the note's `body` text by loro-codemirror: each keystroke is a Loro text op. */
function Editor(props: { doc: LoroDoc }) {
  const host = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    if (!host.current) return;
    const view = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: props.doc.getText('body').toString(),
        extensions: [LoroSyncPlugin(props.doc, (d) => d.getText('body')), EditorView.lineWrapping],
      }),
    });
    return () => view.destroy();
  }, [props.doc]);
  return <div ref={host} data-testid="editor" style={{ border: '1px solid #ccc', minHeight: '6rem' }} />;
}
