// The share viewer's two addresses: /r/<shortId> (in the console) and /r/<shortId>/embed (for iframes).

export interface ShareRoute {
  shortId: string;
  embed: boolean;
}

/** `/r/<shortId>` or `/r/<shortId>/embed`; null for any other path. */
export function shareRoute(path: string): ShareRoute | null {
  const match = /^\/r\/([^/]+)(\/embed)?\/?$/.exec(path);
  if (!match) return null;
  let shortId: string;
  try {
    shortId = decodeURIComponent(match[1]);
  } catch {
    shortId = match[1];
  }
  return { shortId, embed: Boolean(match[2]) };
}
