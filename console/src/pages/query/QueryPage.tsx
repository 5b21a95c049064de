import { useEffect, useRef, useState } from "preact/hooks";
import { api, request, type Schemas } from "../../api/client";
import { Busy, ErrorBanner } from "../../components/ui";
import { download, toCsv } from "../../lib/format";
import { setSearch, useLocation } from "../../lib/router";
import { bucketMicros, type MicroRange, type TimeRangeSpec, toMicros } from "../../lib/timerange";
import { type Buckets, Histogram } from "./Histogram";
import { histogramSql } from "./histogramSql";
import { recentQueries, remember } from "./recent";
import { ResultsTable } from "./ResultsTable";
import { SqlEditor } from "./SqlEditor";
import { TimeRangePicker } from "./TimeRangePicker";

type Answer = Schemas["QueryAnswer"];

export function QueryPage() {
  const { search } = useLocation();
  const [sql, setSql] = useState(search.get("q") ?? "");
  const [preset, setPreset] = useState({ text: sql, revision: 0 });
  const [range, setRange] = useState<TimeRangeSpec>({ from: search.get("from") ?? "now-1h", to: search.get("to") ?? "now" });
  const [schema, setSchema] = useState<Record<string, string[]>>({});
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [buckets, setBuckets] = useState<Buckets | null>(null);
  const [histogramNote, setHistogramNote] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const [recent, setRecent] = useState(recentQueries);
  // The example query fills only an editor the user has not touched yet.
  const edited = useRef(false);
  const editSql = (text: string) => {
    edited.current = true;
    setSql(text);
  };
  const replaceSql = (text: string) => {
    setSql(text);
    setPreset((p) => ({ text, revision: p.revision + 1 }));
  };

  useEffect(() => {
    api.get<Schemas["StreamList"]>("/api/v1/streams").then(
      (list) => {
        setSchema(Object.fromEntries(list.streams.map((s) => [s.name, s.schema.map((f) => f.name)])));
        const first = list.streams[0]?.name;
        if (first && !edited.current && !sql) replaceSql(`SELECT * FROM ${first} ORDER BY _timestamp DESC LIMIT 100`);
      },
      () => setSchema({}),
    );
  }, []);

  const micros = (): MicroRange => {
    const resolved = toMicros(range, Date.now());
    if (typeof resolved === "string") throw new Error(`time range: ${resolved}`);
    return resolved;
  };

  const run = async () => {
    if (!sql.trim()) return;
    setRunning(true);
    setError(null);
    setBuckets(null);
    setHistogramNote(null);
    setSearch({ q: sql, from: range.from, to: range.to });
    try {
      const time_range = micros();
      const result = await api.post<Answer>("/api/v1/query", { sql, time_range });
      setAnswer(result);
      setRecent(remember(sql));
      if (result.columns.includes("_timestamp")) {
        const bucket = bucketMicros(time_range);
        try {
          const histogram = await api.post<Answer>("/api/v1/query", { sql: histogramSql(sql, bucket), time_range });
          setBuckets({
            starts: histogram.rows.map((r) => (Number(r.bucket) * bucket) / 1e6),
            counts: histogram.rows.map((r) => Number(r.n)),
          });
        } catch (caught) {
          setHistogramNote(`No histogram for this query (${String((caught as Error).message)}).`);
        }
      } else {
        setHistogramNote("No histogram: the result has no _timestamp column.");
      }
    } catch (caught) {
      setAnswer(null);
      setError(caught);
    } finally {
      setRunning(false);
    }
  };

  const downloadNdjson = async () => {
    setError(null);
    try {
      const response = await request<Response>("POST", "/api/v1/query", {
        body: { sql, time_range: micros() },
        headers: { accept: "application/x-ndjson" },
        raw: true,
      });
      download("molesignal-query.ndjson", await response.blob(), "application/x-ndjson");
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <section aria-labelledby="query-title" class="query">
      <h1 id="query-title">Query</h1>
      <form
        class="query-form"
        onSubmit={(event) => {
          event.preventDefault();
          void run();
        }}
      >
        <SqlEditor preset={preset} schema={schema} onChange={editSql} onRun={() => void run()} />
        <div class="row wrap">
          <TimeRangePicker value={range} onChange={setRange} />
          <button type="submit" class="primary" disabled={running || !sql.trim()}>
            {running ? "Running…" : "Run query"}
          </button>
          <button type="button" onClick={() => void downloadNdjson()} disabled={!answer}>
            Download NDJSON
          </button>
          <button
            type="button"
            disabled={!answer}
            onClick={() => answer && download("molesignal-query.csv", toCsv(answer.columns, answer.rows), "text/csv")}
          >
            Download CSV
          </button>
        </div>
        <p class="hint">Ctrl+Enter runs the query. Times are in microseconds since the epoch (_timestamp).</p>
      </form>
      <ErrorBanner error={error} />
      {running && <Busy label="Running query…" />}
      {answer && (
        <>
          <p role="status" class="summary">
            {answer.rows.length} rows · scanned {answer.scanned_rows} · {answer.took_ms} ms{answer.cache_hit ? " · from cache" : ""}
          </p>
          {buckets ? <Histogram buckets={buckets} label="Rows over time" /> : histogramNote && <p class="hint">{histogramNote}</p>}
          <ResultsTable key={JSON.stringify(answer.columns) + answer.rows.length} columns={answer.columns} rows={answer.rows} />
        </>
      )}
      {recent.length > 0 && (
        <details class="recent">
          <summary>Recent queries</summary>
          <ul>
            {recent.map((q) => (
              <li key={q}>
                <button type="button" class="link" onClick={() => replaceSql(q)}>
                  {q}
                </button>
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
