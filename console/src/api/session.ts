// The signed-in session: a short-lived access token (JWT) kept in localStorage so the console
// and the API reference share it, renewed through the httpOnly refresh cookie. Refreshes are
// serialised across tabs with a Web Lock: refresh tokens rotate, and presenting a rotated one
// twice revokes the whole session (server-side reuse detection).

const KEY = "molesignal.session";

export interface StoredSession {
  accessToken: string;
  expiresAt: number; // ms since the epoch
  user: string;
  role: string;
  orgId: string;
}

type Listener = (session: StoredSession | null) => void;
const listeners = new Set<Listener>();

export function currentSession(): StoredSession | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as StoredSession) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: StoredSession | null): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
  for (const listener of listeners) listener(session);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  const storage = (event: StorageEvent) => {
    if (event.key === KEY) listener(currentSession());
  };
  window.addEventListener("storage", storage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", storage);
  };
}

export async function withRefreshLock<T>(work: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return work();
  return locks.request("molesignal-refresh", work);
}
