import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, ErrorBanner, Notice, useAsync } from "../../components/ui";
import { setSearch, useLocation } from "../../lib/router";
import { fromLocalInput } from "../../lib/timerange";
import { ExportsPanel } from "./ExportsPanel";

type EventOut = Schemas["EventOut"];

interface Filters {
  action: string;
  actor_id: string;
  target_id: string;
  from: string; // datetime-local value
  to: string;
}

function query(filters: Filters, cursor: string | undefined): string {
  const params = new URLSearchParams({ limit: "50" });
  if (filters.action) params.set("action", filters.action);
  if (filters.actor_id) params.set("actor_id", filters.actor_id);
  if (filters.target_id) params.set("target_id", filters.target_id);
  const from = fromLocalInput(filters.from);
  const to = fromLocalInput(filters.to);
  if (from) params.set("from", from);
  if (to) params.set("to", to);
  if (cursor) params.set("cursor", cursor);
  return `/api/v1/events?${params}`;
}

function party(value: unknown): string {
  const p = (value ?? {}) as Record<string, unknown>;
  return [p.type, p.id].filter(Boolean).join(":") + (p.name ? ` (${String(p.name)})` : "");
}

export function EventsPage() {
  const { search } = useLocation();
  const initial: Filters = {
    action: search.get("action") ?? "",
    actor_id: search.get("actor_id") ?? "",
    target_id: search.get("target_id") ?? "",
    from: search.get("from") ?? "",
    to: search.get("to") ?? "",
  };
  const [draft, setDraft] = useState(initial);
  const [filters, setFilters] = useState(initial);
  const [cursors, setCursors] = useState<string[]>([]);
  const [selected, setSelected] = useState<EventOut | null>(null);
  const cursor = cursors[cursors.length - 1];
  const page = useAsync(() => api.get<Schemas["EventPage"]>(query(filters, cursor)), [JSON.stringify(filters), cursor]);
  useEffect(() => setSearch({ ...filters }), [JSON.stringify(filters)]);

  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">Audit events</h1>
      <form
        class="card row wrap"
        aria-label="Event filters"
        onSubmit={(event) => {
          event.preventDefault();
          setCursors([]);
          setFilters(draft);
        }}
      >
        {(["action", "actor_id", "target_id"] as const).map((key) => (
          <label key={key}>
            {{ action: "Action", actor_id: "Actor id", target_id: "Target id" }[key]}
            <input value={draft[key]} onInput={(e) => setDraft({ ...draft, [key]: e.currentTarget.value })} />
          </label>
        ))}
        <label>
          From
          <input type="datetime-local" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} />
        </label>
        <label>
          To
          <input type="datetime-local" value={draft.to} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} />
        </label>
        <button type="submit" class="primary">
          Show events
        </button>
      </form>
      <ErrorBanner error={page.error} />
      {page.loading && <Busy label="Loading events…" />}
      {page.data && (
        <>
          <div class="table-scroll">
            <table>
              <caption>
                {page.data.total} events match; page {cursors.length + 1}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Seq</th>
                  <th scope="col">Occurred</th>
                  <th scope="col">Action</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Targets</th>
                  <th scope="col">Location</th>
                </tr>
              </thead>
              <tbody>
                {page.data.data.map((e) => (
                  <tr key={e.id}>
                    <td>{e.seq}</td>
                    <td>{e.occurred_at}</td>
                    <td>
                      <button type="button" class="link" aria-label={`Details of event ${e.seq} ${e.action}`} onClick={() => setSelected(e)}>
                        {e.action}
                      </button>
                    </td>
                    <td>{party(e.actor)}</td>
                    <td>{e.targets.map(party).join(", ")}</td>
                    <td>{String((e.context as Record<string, unknown>).location ?? "")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Event pages">
            <button type="button" disabled={!cursors.length} onClick={() => setCursors(cursors.slice(0, -1))}>
              Newer events
            </button>
            <button
              type="button"
              disabled={!page.data.has_more || !page.data.next_cursor}
              onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}
            >
              Older events
            </button>
          </nav>
        </>
      )}
      {selected && (
        <section class="card" aria-labelledby="event-detail-title">
          <h2 id="event-detail-title">
            Event {selected.seq}: {selected.action}
          </h2>
          <pre tabIndex={0} aria-label="Event as JSON" class="json">
            {JSON.stringify(selected, null, 2)}
          </pre>
          <button type="button" onClick={() => setSelected(null)}>
            Close details
          </button>
        </section>
      )}
      <VerifyPanel filters={filters} />
      <ExportsPanel filters={{ action: filters.action, actor_id: filters.actor_id, target_id: filters.target_id, from: fromLocalInput(filters.from), to: fromLocalInput(filters.to) }} />
    </section>
  );
}

function VerifyPanel({ filters }: { filters: Filters }) {
  const [report, setReport] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="card" aria-labelledby="verify-title">
      <h2 id="verify-title">Verify the hash chain</h2>
      <p class="hint">Walks the stored events against the chain and reports the first break (a modified, missing or reordered event).</p>
      <button
        type="button"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          setReport(null);
          try {
            const params = new URLSearchParams();
            const from = fromLocalInput(filters.from);
            const to = fromLocalInput(filters.to);
            if (from) params.set("from", from);
            if (to) params.set("to", to);
            setReport(await api.get<Record<string, unknown>>(`/api/v1/events/verify?${params}`));
          } catch (caught) {
            setError(caught);
          } finally {
            setBusy(false);
          }
        }}
      >
        Verify chain
      </button>
      {busy && <Busy label="Verifying…" />}
      <ErrorBanner error={error} />
      {report &&
        (report.verified ? (
          <Notice>
            Chain verified: {String(report.events_checked)} events checked
            {report.to_seq !== null && report.to_seq !== undefined ? `, up to sequence ${String(report.to_seq)}` : ""}.
          </Notice>
        ) : (
          <div role="alert" class="banner error">
            Chain broken at sequence {String((report.first_break as Record<string, unknown>).seq)}:{" "}
            {String((report.first_break as Record<string, unknown>).reason)}
          </div>
        ))}
    </section>
  );
}
