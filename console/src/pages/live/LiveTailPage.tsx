import { useEffect, useRef, useState } from "preact/hooks";
import { api, restoreSession, type Schemas } from "../../api/client";
import { ErrorBanner, useAsync } from "../../components/ui";
import { type LiveColumn, type LiveRow, openTail, tailSql } from "../../lib/live";
import { setSearch, useLocation } from "../../lib/router";

const MAX_ROWS = 500; // what the page keeps on screen; older lines scroll away

type Status = "idle" | "connecting" | "live" | "paused" | "closed";

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function LiveTailPage() {
  const { search } = useLocation();
  const streams = useAsync(() => api.get<Schemas["StreamList"]>("/api/v1/streams"), []);
  const [stream, setStream] = useState(search.get("stream") ?? "");
  const [where, setWhere] = useState(search.get("where") ?? "");
  const [status, setStatus] = useState<Status>("idle");
  const [error, setError] = useState<string | null>(null);
  const [columns, setColumns] = useState<LiveColumn[]>([]);
  const [rows, setRows] = useState<LiveRow[]>([]);
  const [held, setHeld] = useState<LiveRow[]>([]);
  const paused = useRef(false);
  const close = useRef<(() => void) | null>(null);

  useEffect(() => () => close.current?.(), []);

  const show = (incoming: LiveRow[]) => setRows((current) => [...incoming.slice().reverse(), ...current].slice(0, MAX_ROWS));

  async function start(event: Event) {
    event.preventDefault();
    close.current?.();
    setError(null);
    setRows([]);
    setHeld([]);
    paused.current = false;
    setSearch({ stream, where });
    const session = await restoreSession();
    if (!session) {
      setError("Your session ended: sign in again.");
      return;
    }
    setStatus("connecting");
    close.current = openTail(session.accessToken, tailSql(stream, where), (live) => {
      if (live.kind === "ready") {
        setColumns(live.columns);
        setRows(live.rows.slice(0, MAX_ROWS));
        setStatus(paused.current ? "paused" : "live");
      } else if (live.kind === "rows") {
        if (paused.current) setHeld((current) => [...current, ...live.rows]);
        else show(live.rows);
      } else if (live.kind === "error") {
        setError(`${live.code}: ${live.message}`);
      } else {
        setStatus("closed");
      }
    });
  }

  function stop() {
    close.current?.();
    close.current = null;
    setStatus("idle");
  }

  function togglePause() {
    if (paused.current) {
      paused.current = false;
      show(held);
      setHeld([]);
      setStatus("live");
    } else {
      paused.current = true;
      setStatus("paused");
    }
  }

  const running = status === "connecting" || status === "live" || status === "paused";
  const names = streams.data?.streams.map((s) => s.name) ?? [];
  return (
    <section aria-labelledby="live-title">
      <h1 id="live-title">Live tail</h1>
      <form class="card row wrap" aria-label="Live tail" onSubmit={(e) => void start(e)}>
        <label>
          Stream
          <input required list="live-streams" value={stream} onInput={(e) => setStream(e.currentTarget.value)} />
          <datalist id="live-streams">
            {names.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        <label class="grow">
          Where (optional SQL condition)
          <input
            value={where}
            placeholder="level = 'error'"
            onInput={(e) => setWhere(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary">
          {running ? "Restart" : "Start"}
        </button>
        <button type="button" disabled={!running || status === "connecting"} onClick={togglePause}>
          {status === "paused" ? "Resume" : "Pause"}
        </button>
        <button type="button" disabled={!running} onClick={stop}>
          Stop
        </button>
      </form>
      <ErrorBanner error={streams.error} />
      {error && (
        <div role="alert" class="banner error">
          {error}
        </div>
      )}
      <p role="status" aria-live="polite">
        {status === "idle" && "Choose a stream and start: new lines appear here as they land."}
        {status === "connecting" && "Connecting…"}
        {status === "live" && `Live: ${rows.length} line${rows.length === 1 ? "" : "s"} shown, newest first.`}
        {status === "paused" && `Paused: ${held.length} new line${held.length === 1 ? "" : "s"} held until you resume.`}
        {status === "closed" && "The connection closed. Start again to resume the tail."}
      </p>
      {columns.length > 0 && (
        <div class="table-scroll">
          <table aria-label="Live lines">
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c.name} scope="col">
                    {c.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row, i) => (
                <tr key={rows.length - i}>
                  {columns.map((c) => (
                    <td key={c.name}>{cell(row[c.name])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
