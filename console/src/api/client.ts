// The console's one way to call the API: JSON in and out, the bearer token attached, one
// transparent refresh on 401, and every error envelope turned into an ApiError.
import type { components } from "./schema";
import { ApiError, errorFromBody } from "./errors";
import { currentSession, saveSession, type StoredSession, withRefreshLock } from "./session";

export type Schemas = components["schemas"];

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  auth?: boolean;
  raw?: boolean; // return the Response itself (streams, downloads)
  signal?: AbortSignal;
}

export function sessionFrom(pair: Schemas["TokenPairOut"]): StoredSession {
  return {
    accessToken: pair.access_token,
    expiresAt: Date.now() + pair.expires_in * 1000,
    user: pair.user.user,
    role: pair.user.role,
    orgId: pair.user.org_id,
  };
}

async function refresh(stale: string | null): Promise<StoredSession | null> {
  return withRefreshLock(async () => {
    const now = currentSession();
    // Another tab refreshed while this one waited for the lock: use its token.
    if (now && now.accessToken !== stale && now.expiresAt > Date.now() + 5_000) return now;
    const response = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    if (!response.ok) {
      saveSession(null);
      return null;
    }
    const session = sessionFrom((await response.json()) as Schemas["TokenPairOut"]);
    saveSession(session);
    return session;
  });
}

export async function restoreSession(): Promise<StoredSession | null> {
  const session = currentSession();
  if (session && session.expiresAt > Date.now() + 5_000) return session;
  return refresh(session?.accessToken ?? null);
}

async function send(method: Method, path: string, options: RequestOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  let body: BodyInit | undefined;
  if (options.body instanceof FormData || typeof options.body === "string") body = options.body;
  else if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(path, { method, headers, body, credentials: "same-origin", signal: options.signal });
}

export async function request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
  const wantsAuth = options.auth !== false;
  let session = wantsAuth ? currentSession() : null;
  if (wantsAuth && session && session.expiresAt <= Date.now() + 5_000) session = await refresh(session.accessToken);
  let response = await send(method, path, options, session?.accessToken ?? null);
  if (response.status === 401 && wantsAuth && session) {
    const renewed = await refresh(session.accessToken);
    if (renewed) response = await send(method, path, options, renewed.accessToken);
  }
  if (options.raw && response.ok) return response as unknown as T;
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    if (typeof parsed === "string") throw new ApiError(response.status, parsed.slice(0, 300));
    throw errorFromBody(response.status, parsed);
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>("GET", path, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("POST", path, { ...options, body }),
  put: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("PUT", path, { ...options, body }),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>("PATCH", path, { ...options, body }),
  delete: <T>(path: string, options?: RequestOptions) => request<T>("DELETE", path, options),
};

export async function login(user: string, password: string): Promise<StoredSession> {
  const pair = await api.post<Schemas["TokenPairOut"]>("/api/v1/auth/login", { user, password }, { auth: false });
  const session = sessionFrom(pair);
  saveSession(session);
  return session;
}

export async function logout(): Promise<void> {
  try {
    await api.post("/api/v1/auth/logout", {});
  } finally {
    saveSession(null);
  }
}
