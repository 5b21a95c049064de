import type { StoredSession } from "../../api/session";
import { useLocation } from "../../lib/router";
import { DestinationsPanel } from "./DestinationsPanel";
import { HistoryPanel } from "./HistoryPanel";
import { RulesPanel } from "./RulesPanel";
import { SilencesPanel } from "./SilencesPanel";

const SECTIONS = [
  { path: "/alerts/rules", label: "Rules" },
  { path: "/alerts/destinations", label: "Destinations" },
  { path: "/alerts/history", label: "History" },
  { path: "/alerts/silences", label: "Silences" },
];

/** Alerting (spec 000, docs/alerts.md): one section at a time, each with its own address. */
export function AlertsPage({ session }: { session: StoredSession }) {
  const { path } = useLocation();
  const current = SECTIONS.find((s) => path.startsWith(s.path)) ?? SECTIONS[0];
  const canChange = ["root", "admin", "editor"].includes(session.role);
  return (
    <section aria-labelledby="alerts-title">
      <h1 id="alerts-title">Alerts</h1>
      <nav aria-label="Alerts sections" class="subnav">
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.path}>
              <a href={s.path} aria-current={s === current ? "page" : undefined}>
                {s.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {current.label === "Rules" && <RulesPanel canChange={canChange} />}
      {current.label === "Destinations" && <DestinationsPanel canChange={canChange} />}
      {current.label === "History" && <HistoryPanel />}
      {current.label === "Silences" && <SilencesPanel canChange={canChange} />}
    </section>
  );
}
