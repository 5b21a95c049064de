import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import type { StoredSession } from "../../api/session";
import { Busy, CursorPager, ErrorBanner, useAsync } from "../../components/ui";
import { formatDuration } from "../../lib/format";
import { setSearch, useLocation } from "../../lib/router";
import { TraceDetailPanel } from "./TraceDetailPanel";
import { type Filters, KEYS, traceListQuery } from "./traceQuery";

type TraceSummary = Schemas["TraceSummary"];

const STATUSES = ["queued", "running", "passed", "failed", "error", "aborted"];
const SOURCES = ["pr", "schedule", "manual", "shadow_diff"];
const TIERS = ["hot", "warm", "cold"];

function Choice(props: { label: string; value: string; options: string[]; onChange: (value: string) => void }) {
  return (
    <label>
      {props.label}
      <select value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">any</option>
        {props.options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </label>
  );
}

export function TracesPage({ session }: { session: StoredSession }) {
  const { search } = useLocation();
  const initial = Object.fromEntries(KEYS.map((key) => [key, search.get(key) ?? ""])) as unknown as Filters;
  const [draft, setDraft] = useState(initial);
  const [filters, setFilters] = useState(initial);
  const [cursors, setCursors] = useState<string[]>([]);
  const [selected, setSelected] = useState<string | null>(search.get("trace"));
  const cursor = cursors[cursors.length - 1];
  const page = useAsync(
    () => api.get<Schemas["TraceListResponse"]>(traceListQuery(filters, cursor)),
    [JSON.stringify(filters), cursor],
  );
  useEffect(() => setSearch({ ...filters, trace: selected }), [JSON.stringify(filters), selected]);
  const set = (key: keyof Filters) => (value: string) => setDraft({ ...draft, [key]: value });

  return (
    <section aria-labelledby="traces-title">
      <h1 id="traces-title">Test-run traces</h1>
      <form
        class="card row wrap"
        aria-label="Trace filters"
        onSubmit={(event) => {
          event.preventDefault();
          setCursors([]);
          setFilters(draft);
        }}
      >
        <label class="grow">
          Search
          <input type="search" value={draft.q} onInput={(e) => set("q")(e.currentTarget.value)} />
        </label>
        <Choice label="Status" value={draft.status} options={STATUSES} onChange={set("status")} />
        <Choice label="Source" value={draft.source} options={SOURCES} onChange={set("source")} />
        <Choice label="Tier" value={draft.tier} options={TIERS} onChange={set("tier")} />
        <label>
          Failure signature
          <input value={draft.signature} onInput={(e) => set("signature")(e.currentTarget.value)} />
        </label>
        <label>
          From
          <input type="datetime-local" value={draft.from} onInput={(e) => set("from")(e.currentTarget.value)} />
        </label>
        <label>
          To
          <input type="datetime-local" value={draft.to} onInput={(e) => set("to")(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">
          Show traces
        </button>
      </form>
      <ErrorBanner error={page.error} />
      {page.loading && <Busy label="Loading traces…" />}
      {page.data && (
        <>
          <div class="table-scroll">
            <table>
              <caption>
                {page.data.items.length} traces on page {cursors.length + 1}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Scenario</th>
                  <th scope="col">Status</th>
                  <th scope="col">Source</th>
                  <th scope="col">Tier</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Failure signature</th>
                </tr>
              </thead>
              <tbody>
                {page.data.items.map((t: TraceSummary) => (
                  <tr key={t.id} aria-selected={t.id === selected}>
                    <td>{t.created_at}</td>
                    <td>
                      <button
                        type="button"
                        class="link"
                        aria-label={`Open trace ${t.scenario_title ?? t.scenario_slug ?? t.id} (${t.status ?? "unknown"})`}
                        onClick={() => setSelected(t.id)}
                      >
                        {t.scenario_title ?? t.scenario_slug ?? t.id}
                      </button>
                      {t.pinned ? " 📌" : ""}
                    </td>
                    <td>
                      <span class={`status status-${t.status ?? "unknown"}`}>{t.status ?? "—"}</span>
                    </td>
                    <td>{t.source ?? "—"}</td>
                    <td>{t.tier ?? "—"}</td>
                    <td>{formatDuration(t.duration_ms)}</td>
                    <td>{t.failure_signature ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <CursorPager
            label="Trace pages"
            noun="traces"
            cursors={cursors}
            next={page.data.next_cursor}
            onChange={setCursors}
          />
        </>
      )}
      {selected && (
        <TraceDetailPanel
          key={selected}
          traceId={selected}
          canChange={["root", "admin", "editor"].includes(session.role)}
          onChanged={page.reload}
          onClose={() => setSelected(null)}
        />
      )}
    </section>
  );
}
