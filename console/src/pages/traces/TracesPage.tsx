import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import type { StoredSession } from "../../api/session";
import { Busy, CursorPager, ErrorBanner, useAsync } from "../../components/ui";
import { formatDuration } from "../../lib/format";
import { setSearch, useLocation } from "../../lib/router";
import { TraceDetailPanel } from "./TraceDetailPanel";
import { TraceDiffPanel } from "./TraceDiffPanel";
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
  // Two traces picked for comparison, in the order picked: the first is A, the second B.
  const [compared, setCompared] = useState<string[]>(
    [search.get("a"), search.get("b")].filter((id): id is string => Boolean(id)),
  );
  const [labels, setLabels] = useState<Record<string, string>>({});
  const cursor = cursors[cursors.length - 1];
  const page = useAsync(
    () => api.get<Schemas["TraceListResponse"]>(traceListQuery(filters, cursor)),
    [JSON.stringify(filters), cursor],
  );
  useEffect(
    () => setSearch({ ...filters, trace: selected, a: compared[0] ?? null, b: compared[1] ?? null }),
    [JSON.stringify(filters), selected, compared.join()],
  );
  const toggleCompared = (t: TraceSummary, label: string) => {
    setLabels({ ...labels, [t.id]: label });
    setCompared(compared.includes(t.id) ? compared.filter((id) => id !== t.id) : [...compared, t.id].slice(-2));
  };
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
                  <th scope="col">Compare</th>
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
                {page.data.items.map((t: TraceSummary) => {
                  const label = `${t.scenario_title ?? t.scenario_slug ?? t.id} (${t.created_at})`;
                  return (
                    <tr key={t.id} aria-selected={t.id === selected}>
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Compare ${label}`}
                          checked={compared.includes(t.id)}
                          onChange={() => toggleCompared(t, label)}
                        />
                      </td>
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
                  );
                })}
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
      {compared.length === 1 && <p class="hint">Pick a second trace to compare with the first.</p>}
      {compared.length === 2 && (
        <TraceDiffPanel
          key={compared.join()}
          a={compared[0]}
          b={compared[1]}
          labels={[labels[compared[0]] ?? compared[0], labels[compared[1]] ?? compared[1]]}
          onClose={() => setCompared([])}
        />
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
