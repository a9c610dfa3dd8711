/** Who is signed in on this page, kept in localStorage so a reload (offline too) stays signed in. */
export interface Identity {
  readonly token: string;
  readonly userId: string;
  /** How the page names the user: an email, or "guest". */
  readonly label: string;
}

const KEY = 'mast-todo.identity';

/** The stored identity, or null when signed out (or the stored value is unreadable). */
export function loadIdentity(): Identity | null {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Identity | null;
    return value && typeof value.token === 'string' && typeof value.userId === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** Stores (or, with null, forgets) the identity. */
export function saveIdentity(identity: Identity | null): void {
  if (identity) localStorage.setItem(KEY, JSON.stringify(identity));
  else localStorage.removeItem(KEY);
}
