// The one trace detail: the signed-in Traces page (TraceDetailPanel) and the /r/<shortId> share
// viewer both render it, each from its own base path (`/v1/traces/<id>` or `/v1/shares/<shortId>`,
// which answer the same shapes): summary, first failure, files, step timeline, network, console.
import type { ComponentChildren } from "preact";
import { api, type Schemas } from "../../api/client";
import { Busy, ErrorBanner, useAsync } from "../../components/ui";
import { formatBytes, formatDuration } from "../../lib/format";

export type TraceDetailData = Schemas["TraceDetail"];
type TraceEvent = Record<string, unknown>;

/** Events of one kind the timeline and tables show at most. */
export const EVENT_LIMIT = 500;

const ARTIFACTS: Record<string, string> = {
  video: "Video",
  playwright: "Playwright trace.zip",
  ndjson: "events.ndjson",
  summary: "summary.json",
  rrweb: "rrweb recording",
  report: "Runner's report",
};

/** A failed step or assertion, an HTTP error response, a console error. */
export function failed(event: TraceEvent): boolean {
  if (event.ok === false || event.level === "error") return true;
  return typeof event.status === "number" && event.status >= 400;
}

function text(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function eventsOf(base: string, kind: string): Promise<TraceEvent[]> {
  const params = new URLSearchParams({ kind, limit: String(EVENT_LIMIT) });
  return api.get<Schemas["EventsResponse"]>(`${base}/events?${params}`).then((r) => r.events);
}

export function traceTitle(trace: TraceDetailData | null, fallback: string): string {
  return trace ? (trace.scenario_title ?? trace.scenario_slug ?? trace.id) : fallback;
}

export function TraceDetail<T extends TraceDetailData>(props: {
  /** The API path the detail is read from; its events are under `${base}/events`. */
  base: string;
  /** What to call the trace before its detail has loaded. */
  label: string;
  heading: "h1" | "h2";
  /** Changing it reloads the detail (after a pin, a share, a restore). */
  version?: number;
  /** Controls shown under the summary (pin, share, …), given the loaded trace. */
  actions?: (trace: T) => ComponentChildren;
  /** Shown instead of the detail when it cannot be read (a share's "not found" or "expired"). */
  failure?: (error: unknown) => ComponentChildren;
  onLoaded?: (trace: T) => void;
}) {
  const detail = useAsync(async () => {
    const loaded = await api.get<T>(props.base);
    props.onLoaded?.(loaded);
    return loaded;
  }, [props.base, props.version]);
  const trace = detail.data;
  const cold = trace?.tier === "cold";
  const timeline = useAsync(async () => {
    if (!trace || cold) return null;
    const [steps, assertions, network, lines] = await Promise.all([
      eventsOf(props.base, "step"),
      eventsOf(props.base, "assertion"),
      eventsOf(props.base, "network.response"),
      eventsOf(props.base, "console"),
    ]);
    return { steps, assertions, network, console: lines };
  }, [props.base, trace?.tier, trace?.event_count]);
  const Heading = props.heading;
  const title = traceTitle(trace, props.label);
  if (detail.error && props.failure) return <>{props.failure(detail.error)}</>;
  return (
    <>
      <Heading id="trace-detail-title">Trace: {title}</Heading>
      <ErrorBanner error={detail.error} />
      {detail.loading && !trace && <Busy label="Loading the trace…" />}
      {trace && (
        <>
          <Summary trace={trace} />
          {props.actions?.(trace)}
          <h3>Files</h3>
          <Files trace={trace} />
          {cold && <p class="hint">The trace is cold: it must be restored before its events and files can be read.</p>}
          <ErrorBanner error={timeline.error} />
          {timeline.loading && <Busy label="Loading the timeline…" />}
          {timeline.data && (
            <>
              <Timeline steps={timeline.data.steps} assertions={timeline.data.assertions} />
              <EventTable
                title="Network"
                empty="No network responses were recorded."
                events={timeline.data.network}
                columns={{ step_id: "Step", method: "Method", url: "URL", status: "Status" }}
              />
              <EventTable
                title="Console"
                empty="No console output was recorded."
                events={timeline.data.console}
                columns={{ step_id: "Step", level: "Level", message: "Message" }}
              />
            </>
          )}
        </>
      )}
    </>
  );
}

function Summary({ trace }: { trace: TraceDetailData }) {
  return (
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
    </>
  );
}

function Files({ trace }: { trace: TraceDetailData }) {
  const links = Object.entries(ARTIFACTS).filter(([key]) => trace.signed_urls[key]);
  if (!links.length) return <p class="hint">No files can be opened now.</p>;
  const minutes = Math.round(trace.signed_urls_expire_in / 60);
  return (
    <>
      <ul>
        {links.map(([key, label]) => (
          <li key={key}>
            <a href={trace.signed_urls[key] ?? ""} target="_blank" rel="noopener noreferrer">
              {label}
            </a>
          </li>
        ))}
      </ul>
      <p class="hint">
        These links work for {minutes} {minutes === 1 ? "minute" : "minutes"}; reload the page for fresh ones.
      </p>
    </>
  );
}

function Timeline({ steps, assertions }: { steps: TraceEvent[]; assertions: TraceEvent[] }) {
  return (
    <>
      <h3 id="steps-title">Steps</h3>
      {!steps.length && <p class="hint">No steps were recorded.</p>}
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

function EventTable(props: { title: string; empty: string; events: TraceEvent[]; columns: Record<string, string> }) {
  const errors = props.events.filter(failed).length;
  if (!props.events.length)
    return (
      <>
        <h3>{props.title}</h3>
        <p class="hint">{props.empty}</p>
      </>
    );
  return (
    <div class="table-scroll">
      <table>
        <caption>
          {props.title} ({props.events.length}
          {props.events.length >= EVENT_LIMIT ? "+" : ""}, {errors} failed)
        </caption>
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
            <tr key={text(event.seq)} class={failed(event) ? "failed" : undefined}>
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
