import type { CachedRow, MastClient } from '@mast/client';
import { useConnectionStatus, useMastClient, useQuery } from '@mast/react';
import { useState, type FormEvent } from 'react';
import { useFailures, failures } from './failures.js';
import { loadIdentity, saveIdentity, type Identity } from './identity.js';
import { Notes } from './Notes.js';

/** A todo as the example's schema defines it. */
interface Todo extends CachedRow {
  readonly title: string;
  readonly done: boolean;
  readonly ownerId?: string | null;
  readonly shared?: boolean | null;
  readonly createdAt?: string | null;
}

export function App() {
  const [identity, setIdentity] = useState<Identity | null>(loadIdentity);
  const [view, setView] = useState<'todos' | 'notes'>(location.hash.startsWith('#notes') ? 'notes' : 'todos');
  const show = (next: 'todos' | 'notes') => {
    history.replaceState(null, '', next === 'notes' ? '#notes' : '#');
    setView(next);
  };
  const client = useMastClient();
  const signedIn = (next: Identity | null) => {
    saveIdentity(next);
    setIdentity(next);
  };
  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 640, margin: '2rem auto', padding: '0 1rem' }}>
      <h1>Todos</h1>
      <StatusBar />
      {identity ? (
        <>
          <p>
            Signed in as <strong data-testid="who">{identity.label}</strong>{' '}
            <button
              type="button"
              onClick={() => {
                signedIn(null);
                void client.auth.signOut().catch(() => undefined);
              }}
            >
              Sign out
            </button>
          </p>
          <nav>
            <button type="button" aria-pressed={view === 'todos'} onClick={() => show('todos')}>
              Todos
            </button>{' '}
            <button type="button" aria-pressed={view === 'notes'} onClick={() => show('notes')}>
              Notes
            </button>
          </nav>
          <Failures />
          {view === 'todos' ? (
            <>
              <NewTodo identity={identity} />
              <TodoList identity={identity} />
            </>
          ) : (
            <Notes identity={identity} />
          )}
        </>
      ) : (
        <SignIn onSignedIn={signedIn} />
      )}
    </main>
  );
}

/** The offline banner and the count of writes not yet accepted by the server. */
function StatusBar() {
  const status = useConnectionStatus();
  const offline = status.state !== 'open';
  return (
    <div>
      {offline && (
        <div role="status" data-testid="offline-banner" style={{ background: '#fde68a', padding: '0.5rem' }}>
          {status.state === 'closed' ? 'Disconnected' : 'Offline'}: changes are kept on this device and sent when the connection is back.
        </div>
      )}
      <p style={{ color: '#555' }}>
        <span data-testid="connection">{status.state}</span> · <span data-testid="pending">{status.pendingWrites}</span> pending {status.pendingWrites === 1 ? 'write' : 'writes'}
        {status.storage === 'memory' && status.storageError ? ` · not saved on this device (${status.storageError.code})` : ''}
      </p>
    </div>
  );
}

/** Refused writes: the client rolled them back; the list says what and why. */
function Failures() {
  const list = useFailures();
  if (list.length === 0) return null;
  return (
    <div role="alert" data-testid="failures" style={{ background: '#fee2e2', padding: '0.5rem' }}>
      <ul style={{ margin: 0 }}>
        {list.map((f) => (
          <li key={`${f.at}-${f.what}`} data-testid="failure">
            Failed and rolled back: {f.what}: {f.code} ({f.message})
          </li>
        ))}
      </ul>
      <button type="button" onClick={() => failures.dismiss()}>
        Dismiss
      </button>
    </div>
  );
}

type Method = 'guest' | 'password' | 'magic';

/** Guest, email and password (register or log in), or a magic code (read from the dev outbox). */
function SignIn(props: { onSignedIn: (identity: Identity) => void }) {
  const client = useMastClient();
  const [method, setMethod] = useState<Method>('guest');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [codeSent, setCodeSent] = useState(false);
  const [devCode, setDevCode] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (work: () => Promise<Identity | null>) => {
    setBusy(true);
    setError(null);
    try {
      const identity = await work();
      if (identity) props.onSignedIn(identity);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      setError(`${e.code ?? 'ERROR'}: ${e.message ?? String(err)}`);
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (method === 'guest') {
      void run(async () => {
        const s = await client.auth.guest();
        return { token: s.token, userId: s.userId, label: 'guest' };
      });
    } else if (method === 'password') {
      void run(async () => {
        const s = await passwordSignIn(client, email, password);
        return { token: s.token, userId: s.userId, label: email };
      });
    } else if (!codeSent) {
      void run(async () => {
        await client.auth.sendMagicCode(email);
        setCodeSent(true);
        setDevCode(await devOutboxCode(email));
        return null;
      });
    } else {
      void run(async () => {
        const s = await client.auth.verifyMagicCode({ email, code });
        return { token: s.token, userId: s.userId, label: email };
      });
    }
  };

  return (
    <form onSubmit={submit} data-testid="sign-in">
      <fieldset disabled={busy}>
        <legend>Sign in</legend>
        {(['guest', 'password', 'magic'] as const).map((m) => (
          <label key={m} style={{ marginRight: '1rem' }}>
            <input type="radio" name="method" value={m} checked={method === m} onChange={() => setMethod(m)} />{' '}
            {m === 'guest' ? 'Guest' : m === 'password' ? 'Email and password' : 'Email code'}
          </label>
        ))}
        {method !== 'guest' && (
          <p>
            <input aria-label="email" type="email" placeholder="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
          </p>
        )}
        {method === 'password' && (
          <p>
            <input aria-label="password" type="password" placeholder="password (8+ characters)" value={password} onChange={(e) => setPassword(e.target.value)} required />
          </p>
        )}
        {method === 'magic' && codeSent && (
          <p>
            <input aria-label="code" placeholder="code from the email" value={code} onChange={(e) => setCode(e.target.value)} required />
            {devCode && (
              <span data-testid="dev-code">
                {' '}
                (dev outbox: <code>{devCode}</code>)
              </span>
            )}
          </p>
        )}
        <button type="submit">{method === 'magic' && !codeSent ? 'Send code' : 'Sign in'}</button>
        {error && (
          <p role="alert" data-testid="sign-in-error" style={{ color: '#b91c1c' }}>
            {error}
          </p>
        )}
      </fieldset>
    </form>
  );
}

/** Logs in, or registers the account when the email has none yet. */
async function passwordSignIn(client: MastClient, email: string, password: string) {
  try {
    return await client.auth.login({ email, password });
  } catch (err) {
    if ((err as { code?: string }).code !== 'INVALID_CREDENTIALS') throw err;
    return await client.auth.register({ email, password });
  }
}

/** The code of the newest email to `email` in the server's dev outbox (dev mode only; null elsewhere). */
async function devOutboxCode(email: string): Promise<string | null> {
  try {
    const res = await fetch(`/api/auth/outbox?to=${encodeURIComponent(email)}`);
    if (!res.ok) return null;
    const { messages } = (await res.json()) as { messages: Array<{ text: string }> };
    const text = messages.at(-1)?.text ?? '';
    return /\b(\d{6})\b/.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

function NewTodo(props: { identity: Identity }) {
  const client = useMastClient();
  const [title, setTitle] = useState('');
  const [shared, setShared] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const text = title.trim();
    if (text === '') return;
    setTitle('');
    // Optimistic: the row shows at once, offline too, and is sent when the socket is open.
    void client.insert('Todo', { title: text, done: false, shared, ownerId: props.identity.userId, createdAt: new Date().toISOString() }).catch(() => undefined);
  };
  return (
    <form onSubmit={submit}>
      <input aria-label="new todo" placeholder="What needs doing?" value={title} onChange={(e) => setTitle(e.target.value)} />
      <label style={{ marginLeft: '0.5rem' }}>
        <input aria-label="shared" type="checkbox" checked={shared} onChange={(e) => setShared(e.target.checked)} /> shared
      </label>
      <button type="submit">Add</button>
    </form>
  );
}

function TodoList(props: { identity: Identity }) {
  // Newest first in a window of 50 (a live query without $limit is cut at the server's default
  // of 100, which would hide every todo added after the hundredth).
  // `?limit=N` sets the window (the reload benchmark, bench/src/browser-reload.ts, asks for 10,000).
  const { rows, loading, error, fromCache, complete, loadMore } = useQuery<Todo>('Todo', { $order: { createdAt: 'desc' }, $limit: pageSize() });
  if (error) return <p role="alert">Could not load todos: {error.code}</p>;
  return (
    <>
      {loading && rows.length === 0 && <p>Loading…</p>}
      {fromCache && <p data-testid="from-cache">Showing the todos saved on this device.</p>}
      <ul data-testid="todos" style={{ listStyle: 'none', padding: 0 }}>
        {rows.map((todo) => (
          <TodoItem key={todo.id} todo={todo} mine={todo.ownerId === props.identity.userId} />
        ))}
      </ul>
      {!complete && (
        <button type="button" onClick={() => void loadMore()}>
          Load more
        </button>
      )}
    </>
  );
}

/** The list's window: 50, or `?limit=N` from the page's address. */
function pageSize(): number {
  const n = Number(new URLSearchParams(location.search).get('limit'));
  return Number.isInteger(n) && n > 0 ? n : 50;
}

function TodoItem(props: { todo: Todo; mine: boolean }) {
  const client = useMastClient();
  const { todo } = props;
  const [editing, setEditing] = useState<string | null>(null);
  const kind = todo.ownerId == null ? 'public' : todo.shared ? 'shared' : 'private';
  const save = () => {
    if (editing !== null && editing.trim() !== '' && editing !== todo.title) {
      void client.update('Todo', todo.id, { title: editing.trim() }).catch(() => undefined);
    }
    setEditing(null);
  };
  return (
    <li data-testid="todo" data-title={todo.title} data-kind={kind} data-done={String(todo.done)} data-mine={String(props.mine)} style={{ padding: '0.25rem 0' }}>
      <input
        type="checkbox"
        aria-label={`done: ${todo.title}`}
        checked={todo.done}
        onChange={(e) => void client.update('Todo', todo.id, { done: e.target.checked }).catch(() => undefined)}
      />{' '}
      {editing === null ? (
        <span style={{ textDecoration: todo.done ? 'line-through' : 'none' }}>{todo.title}</span>
      ) : (
        <input
          aria-label={`edit: ${todo.title}`}
          value={editing}
          onChange={(e) => setEditing(e.target.value)}
          onBlur={save}
          onKeyDown={(e) => {
            if (e.key === 'Enter') save();
            if (e.key === 'Escape') setEditing(null);
          }}
        />
      )}{' '}
      <small style={{ color: '#666' }}>
        {kind}
        {props.mine ? ' · yours' : ''}
      </small>{' '}
      <button type="button" aria-label={`edit ${todo.title}`} onClick={() => setEditing(todo.title)}>
        Edit
      </button>{' '}
      <button type="button" aria-label={`delete ${todo.title}`} onClick={() => void client.delete('Todo', todo.id).catch(() => undefined)}>
        Delete
      </button>
    </li>
  );
}
