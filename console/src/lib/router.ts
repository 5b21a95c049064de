// A tiny history router: the path picks the page, the query string holds what a user would
// want to share (query text, time range).
import { useEffect, useState } from "preact/hooks";

const EVENT = "molesignal:navigate";

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.dispatchEvent(new Event(EVENT));
}

export function useLocation(): { path: string; search: URLSearchParams } {
  const read = () => ({ path: location.pathname, search: new URLSearchParams(location.search) });
  const [state, setState] = useState(read);
  useEffect(() => {
    const update = () => setState(read());
    window.addEventListener("popstate", update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return state;
}

/** Replace some query parameters of the current URL without a new history entry. */
export function setSearch(values: Record<string, string | null>): void {
  const search = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === "") search.delete(key);
    else search.set(key, value);
  }
  const query = search.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`);
}

/** Follow same-origin links without a page load. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as HTMLElement | null)?.closest?.("a");
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const href = anchor.getAttribute("href");
  if (!href || !href.startsWith("/") || anchor.target || anchor.hasAttribute("download")) return;
  if (href.startsWith("/docs") || href.startsWith("/api/") || href.startsWith("/openapi.json")) return;
  event.preventDefault();
  navigate(href);
}

/** Where to go after signing in: a same-origin path from `?next=`, else the Query page. */
export function afterSignIn(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/query";
}
