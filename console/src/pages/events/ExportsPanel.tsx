import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import { Busy, ErrorBanner, useAsync } from "../../components/ui";

interface ExportOut {
  id: string;
  status: string;
  format: string;
  gzip: boolean;
  kind: string;
  created_at: string;
  expires_at: string;
  rows?: number;
  bytes?: number;
  error?: string;
}

interface ExportList {
  data: ExportOut[];
  has_more: boolean;
  next_cursor?: string | null;
}

type EventFilters = { action: string; actor_id: string; target_id: string; from: string | null; to: string | null };

export function ExportsPanel({ filters }: { filters: EventFilters }) {
  const exports = useAsync(() => api.get<ExportList>("/api/v1/exports?limit=20"), []);
  const [format, setFormat] = useState("ndjson");
  const [gzip, setGzip] = useState(false);
  const [sql, setSql] = useState("");
  const [error, setError] = useState<unknown>(null);
  const pending = exports.data?.data.some((e) => e.status === "pending" || e.status === "running") ?? false;

  // Long operations show progress: poll while a job is still running.
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(exports.reload, 2000);
    return () => clearTimeout(timer);
  }, [pending, exports.data]);

  const download = async (id: string) => {
    setError(null);
    try {
      const { url } = await api.get<{ url: string }>(`/api/v1/exports/${encodeURIComponent(id)}/download`);
      window.location.assign(url);
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <section class="card" aria-labelledby="exports-title">
      <h2 id="exports-title">Exports</h2>
      <form
        class="row wrap"
        aria-label="New export"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          try {
            const events = Object.fromEntries(
              Object.entries({
                actions: filters.action ? [filters.action] : [],
                actor_id: filters.actor_id || null,
                target_id: filters.target_id || null,
                from: filters.from,
                to: filters.to,
              }).filter(([, v]) => v !== null && !(Array.isArray(v) && !v.length)),
            );
            const source = sql.trim() ? { sql: { query: sql.trim() } } : { events };
            await api.post("/api/v1/exports", { format, gzip: format !== "parquet" && gzip, ...source });
            exports.reload();
          } catch (caught) {
            setError(caught);
          }
        }}
      >
        <label>
          Format
          <select value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
            <option value="ndjson">NDJSON</option>
            <option value="csv">CSV</option>
            <option value="parquet">Parquet</option>
          </select>
        </label>
        <label class="inline">
          <input type="checkbox" checked={gzip} disabled={format === "parquet"} onChange={(e) => setGzip(e.currentTarget.checked)} />
          gzip
        </label>
        <label class="grow">
          SQL instead of the event filters (optional)
          <input value={sql} placeholder="SELECT * FROM app WHERE level = 'error'" onInput={(e) => setSql(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">
          Start export
        </button>
      </form>
      <ErrorBanner error={error ?? exports.error} />
      {pending && <Busy label="An export is running…" />}
      {exports.data && exports.data.data.length > 0 && (
        <div class="table-scroll">
          <table>
            <caption>Recent exports</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Source</th>
                <th scope="col">Format</th>
                <th scope="col">Status</th>
                <th scope="col">Rows</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {exports.data.data.map((e) => (
                <tr key={e.id}>
                  <td>{e.created_at}</td>
                  <td>{e.kind}</td>
                  <td>
                    {e.format}
                    {e.gzip ? " (gzip)" : ""}
                  </td>
                  <td>{e.error ? `${e.status}: ${e.error}` : e.status}</td>
                  <td>{e.rows ?? ""}</td>
                  <td>{e.expires_at}</td>
                  <td>
                    {e.status === "completed" && (
                      <button type="button" aria-label={`Download export ${e.id}`} onClick={() => void download(e.id)}>
                        Download
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
