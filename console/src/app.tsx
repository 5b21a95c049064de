import { useEffect, useState } from "preact/hooks";
import { logout, restoreSession } from "./api/client";
import { onSessionChange, type StoredSession } from "./api/session";
import { Busy } from "./components/ui";
import { afterSignIn, navigate, onLinkClick, useLocation } from "./lib/router";
import { AuditPage } from "./pages/admin/AuditPage";
import { AlertsPage } from "./pages/alerts/AlertsPage";
import { EventsPage } from "./pages/events/EventsPage";
import { OrgsPage } from "./pages/admin/OrgsPage";
import { TokensPage } from "./pages/admin/TokensPage";
import { UsersPage } from "./pages/admin/UsersPage";
import { LoginPage } from "./pages/auth/LoginPage";
import { SharedTracePage } from "./pages/share/SharedTracePage";
import { shareRoute } from "./pages/share/shareRoute";
import { IngestPage } from "./pages/ingest/IngestPage";
import { LiveTailPage } from "./pages/live/LiveTailPage";
import { QueryPage } from "./pages/query/QueryPage";
import { StreamDetailPage } from "./pages/streams/StreamDetailPage";
import { StreamsPage } from "./pages/streams/StreamsPage";
import { TracesPage } from "./pages/traces/TracesPage";

interface NavItem {
  href: string;
  label: string;
  roles?: string[];
}

const NAV: NavItem[] = [
  { href: "/query", label: "Query" },
  { href: "/live", label: "Live tail" },
  { href: "/streams", label: "Streams" },
  { href: "/ingest", label: "Ingest" },
  { href: "/events", label: "Events" },
  { href: "/traces", label: "Traces" },
  { href: "/alerts", label: "Alerts" },
  { href: "/admin/tokens", label: "Tokens" },
  { href: "/admin/users", label: "Users", roles: ["root", "admin"] },
  { href: "/admin/orgs", label: "Orgs & quotas", roles: ["root", "admin"] },
  { href: "/admin/audit", label: "Audit log", roles: ["root", "admin"] },
];

export function App() {
  const { path, search } = useLocation();
  const [session, setSession] = useState<StoredSession | null>(null);
  const [checking, setChecking] = useState(true);

  useEffect(() => {
    restoreSession().then(
      (restored) => {
        setSession(restored);
        setChecking(false);
      },
      () => setChecking(false),
    );
    return onSessionChange(setSession);
  }, []);

  useEffect(() => {
    document.addEventListener("click", onLinkClick);
    return () => document.removeEventListener("click", onLinkClick);
  }, []);

  if (checking) return <Busy label="Loading MoleSignal…" />;
  const share = shareRoute(path);
  if (share?.embed) {
    // For iframes: the trace alone, no console around it.
    return (
      <main id="main" class="embed">
        <SharedTracePage route={share} signedIn={Boolean(session)} />
      </main>
    );
  }
  if (share && !session) {
    return (
      <div class="shell">
        <header class="top viewer-top">
          <a href="/" class="brand">
            MoleSignal
          </a>
          <a href={`/login?next=${encodeURIComponent(path)}`}>Sign in</a>
        </header>
        <main id="main" tabIndex={-1}>
          <SharedTracePage route={share} signedIn={false} />
        </main>
      </div>
    );
  }
  if (!session) return <LoginPage />;
  if (path === "/" || path === "/login" || path === "/setup") {
    navigate(afterSignIn(search.get("next")), true);
    return null;
  }
  const items = NAV.filter((item) => !item.roles || item.roles.includes(session.role));
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a href="/query" class="brand">
          MoleSignal
        </a>
        <nav aria-label="Main">
          <ul>
            {items.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={path.startsWith(item.href) ? "page" : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
            <li>
              <a href="/docs">API reference</a>
            </li>
          </ul>
        </nav>
        <div class="who">
          <span>
            {session.user} <small>({session.role})</small>
          </span>
          <button type="button" onClick={() => void logout()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {share ? <SharedTracePage route={share} signedIn /> : <Page path={path} session={session} />}
      </main>
    </div>
  );
}

function Page({ path, session }: { path: string; session: StoredSession }) {
  if (path.startsWith("/query")) return <QueryPage />;
  if (path === "/streams") return <StreamsPage />;
  if (path.startsWith("/live")) return <LiveTailPage />;
  if (path.startsWith("/streams/")) return <StreamDetailPage name={decodeURIComponent(path.slice(9))} session={session} />;
  if (path.startsWith("/ingest")) return <IngestPage />;
  if (path.startsWith("/events")) return <EventsPage />;
  if (path.startsWith("/traces")) return <TracesPage session={session} />;
  if (path === "/alerts" || path.startsWith("/alerts/")) return <AlertsPage session={session} />;
  if (path.startsWith("/admin/tokens")) return <TokensPage session={session} />;
  if (path.startsWith("/admin/users")) return <UsersPage session={session} />;
  if (path.startsWith("/admin/orgs")) return <OrgsPage session={session} />;
  if (path.startsWith("/admin/audit")) return <AuditPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <a href="/query">Go to Query</a>.
      </p>
    </section>
  );
}
