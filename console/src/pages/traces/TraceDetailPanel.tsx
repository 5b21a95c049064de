import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, ErrorBanner, Notice, useAsync } from "../../components/ui";
import { download, formatBytes, formatDuration } from "../../lib/format";

type TraceDetail = Schemas["TraceDetail"];
type TraceEvent = Record<string, unknown>;

const ARTIFACTS: Record<string, string> = {
  video: "Video",
  playwright: "Playwright trace.zip",
  ndjson: "events.ndjson",
  summary: "summary.json",
  rrweb: "rrweb recording",
  report: "Runner's report",
};

/** The events of one kind, first ``limit`` of them (the timeline shows no more). */
function eventsOf(traceId: string, kind: string, limit: number): Promise<TraceEvent[]> {
  const params = new URLSearchParams({ kind, limit: String(limit) });
  return api
    .get<Schemas["EventsResponse"]>(`/v1/traces/${encodeURIComponent(traceId)}/events?${params}`)
    .then((r) => r.events);
}

export function failed(event: TraceEvent): boolean {
  return event.ok === false;
}

function text(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

export function TraceDetailPanel(props: {
  traceId: string;
  canChange: boolean;
  onChanged: () => void;
  onClose: () => void;
}) {
  const path = `/v1/traces/${encodeURIComponent(props.traceId)}`;
  const detail = useAsync(() => api.get<TraceDetail>(path), [props.traceId]);
  const cold = detail.data?.tier === "cold";
  const timeline = useAsync(async () => {
    if (!detail.data || cold) return null;
    const [steps, assertions, network, lines] = await Promise.all([
      eventsOf(props.traceId, "step", 500),
      eventsOf(props.traceId, "assertion", 500),
      eventsOf(props.traceId, "network.response", 500),
      eventsOf(props.traceId, "console", 500),
    ]);
    return { steps, assertions, network: network.filter(failed), console: lines.filter(failed) };
  }, [props.traceId, detail.data?.tier]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [share, setShare] = useState<Schemas["ShareResponse"] | null>(null);
  const [visibility, setVisibility] = useState("org-only");
  const [days, setDays] = useState("7");

  async function act(run: () => Promise<string | null>): Promise<void> {
    setError(null);
    setNotice(null);
    try {
      setNotice(await run());
      detail.reload();
      props.onChanged();
    } catch (caught) {
      setError(caught);
    }
  }

  const trace = detail.data;
  const title = trace ? (trace.scenario_title ?? trace.scenario_slug ?? trace.id) : props.traceId;
  return (
    <section class="card" aria-labelledby="trace-detail-title">
      <h2 id="trace-detail-title">Trace: {title}</h2>
      <ErrorBanner error={detail.error} />
      {detail.loading && !trace && <Busy label="Loading the trace…" />}
      {trace && (
        <>
          <dl class="stats">
            <dt>Status</dt>
            <dd>
              <span class={`status status-${trace.status ?? "unknown"}`}>{trace.status ?? "—"}</span>
            </dd>
            <dt>Created</dt>
            <dd>{trace.created_at}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(trace.duration_ms)}</dd>
            <dt>Source</dt>
            <dd>
              {trace.source ?? "—"}
              {trace.pr_number ? ` (PR #${trace.pr_number})` : ""}
              {trace.code_sha ? `, commit ${trace.code_sha}` : ""}
            </dd>
            <dt>Tier</dt>
            <dd>
              {trace.tier ?? "—"}
              {trace.pinned ? ", pinned" : ""}
              {trace.restore_status ? ` (${trace.restore_status})` : ""}
            </dd>
            <dt>Failure signature</dt>
            <dd>{trace.failure_signature ?? "—"}</dd>
            <dt>Events</dt>
            <dd>
              {trace.event_count} events in {trace.step_count} steps; {trace.blob_count} files,{" "}
              {formatBytes(trace.total_size_bytes)}
            </dd>
          </dl>
          {trace.first_failure && (
            <div role="note" class="banner error" aria-label="First failure">
              First failure: {text(trace.first_failure.kind)} in step {text(trace.first_failure.step_id)}
              {trace.first_failure.message ? ` — ${text(trace.first_failure.message)}` : ""}
            </div>
          )}
          <div class="row wrap">
            {props.canChange && (
              <button
                type="button"
                onClick={() =>
                  act(async () => {
                    const done = await api.post<Schemas["PinResponse"]>(`${path}/${trace.pinned ? "unpin" : "pin"}`);
                    return done.pinned ? "Pinned: the trace stays in its tier." : "Unpinned: the trace ages again.";
                  })
                }
              >
                {trace.pinned ? "Unpin" : "Pin"}
              </button>
            )}
            {props.canChange && trace.tier !== "hot" && (
              <button
                type="button"
                onClick={() =>
                  act(async () => {
                    const done = await api.post<Schemas["RestoreResponse"]>(`${path}/restore`);
                    return done.status === "restoring"
                      ? `Restoring: about ${done.eta_seconds} s.`
                      : "Restored: the trace is hot again.";
                  })
                }
              >
                Restore
              </button>
            )}
            {!cold && (
              <button
                type="button"
                onClick={() =>
                  act(async () => {
                    const report = await api.get<string>(`${path}/report.md`);
                    download(`trace-${trace.id}.md`, report, "text/markdown");
                    return null;
                  })
                }
              >
                Download report
              </button>
            )}
            <button type="button" onClick={props.onClose}>
              Close trace
            </button>
          </div>
          {props.canChange && (
            <form
              class="row wrap"
              aria-label="Share the trace"
              onSubmit={(event) => {
                event.preventDefault();
                act(async () => {
                  const body = { visibility, expires_days: days ? Number(days) : null };
                  setShare(await api.post<Schemas["ShareResponse"]>(`${path}/share`, body));
                  return null;
                });
              }}
            >
              <label>
                Visibility
                <select value={visibility} onChange={(e) => setVisibility(e.currentTarget.value)}>
                  <option value="org-only">org members only</option>
                  <option value="public-read">anyone with the link</option>
                </select>
              </label>
              <label>
                Expires after (days)
                <input
                  type="number"
                  min={1}
                  max={365}
                  value={days}
                  placeholder="never"
                  onInput={(e) => setDays(e.currentTarget.value)}
                />
              </label>
              <button type="submit">Share</button>
            </form>
          )}
          {share && (
            <Notice>
              Share link ({share.visibility}
              {share.expires_at ? `, until ${share.expires_at}` : ", no expiry"}):{" "}
              <a href={share.url} target="_blank" rel="noopener noreferrer">
                {share.url}
              </a>
            </Notice>
          )}
          {notice && <Notice>{notice}</Notice>}
          <ErrorBanner error={error} />
          <h3>Files</h3>
          <ul>
            {Object.entries(ARTIFACTS).map(([key, label]) =>
              trace.signed_urls[key] ? (
                <li key={key}>
                  <a href={trace.signed_urls[key] ?? ""} target="_blank" rel="noopener noreferrer">
                    {label}
                  </a>
                </li>
              ) : null,
            )}
          </ul>
          {cold && <p class="hint">The trace is cold: restore it to read its events and files.</p>}
          <ErrorBanner error={timeline.error} />
          {timeline.loading && <Busy label="Loading the timeline…" />}
          {timeline.data && (
            <>
              <Timeline steps={timeline.data.steps} assertions={timeline.data.assertions} />
              <EventTable
                title="Network errors"
                events={timeline.data.network}
                columns={{ step_id: "Step", method: "Method", url: "URL", status: "Status" }}
              />
              <EventTable
                title="Console errors"
                events={timeline.data.console}
                columns={{ step_id: "Step", level: "Level", message: "Message" }}
              />
            </>
          )}
        </>
      )}
    </section>
  );
}

function Timeline({ steps, assertions }: { steps: TraceEvent[]; assertions: TraceEvent[] }) {
  return (
    <>
      <h3 id="steps-title">Steps</h3>
      <ol aria-labelledby="steps-title" class="timeline">
        {steps.map((step) => {
          const checks = assertions.filter((a) => a.step_id === step.step_id);
          const bad = failed(step) || checks.some(failed);
          return (
            <li key={text(step.seq)} class={bad ? "failed" : "passed"}>
              <span>
                {bad ? "✗" : "✓"} {text(step.title ?? step.message ?? step.step_id)}
              </span>
              {checks.filter(failed).map((a) => (
                <div key={text(a.seq)} class="hint">
                  Assertion failed: {text(a.message ?? a.title)}
                </div>
              ))}
              {failed(step) && step.message ? <div class="hint">{text(step.message)}</div> : null}
            </li>
          );
        })}
      </ol>
    </>
  );
}

function EventTable(props: { title: string; events: TraceEvent[]; columns: Record<string, string> }) {
  if (!props.events.length) return null;
  return (
    <div class="table-scroll">
      <table>
        <caption>{props.title}</caption>
        <thead>
          <tr>
            {Object.values(props.columns).map((label) => (
              <th key={label} scope="col">
                {label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.events.map((event) => (
            <tr key={text(event.seq)}>
              {Object.keys(props.columns).map((key) => (
                <td key={key}>{text(event[key])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
