import { api, type Schemas } from "../../api/client";
import { Busy, ErrorBanner, useAsync } from "../../components/ui";
import { formatBytes, formatMicros } from "../../lib/format";

export function StreamsPage() {
  const streams = useAsync(() => api.get<Schemas["StreamList"]>("/api/v1/streams"), []);
  return (
    <section aria-labelledby="streams-title">
      <h1 id="streams-title">Streams</h1>
      <ErrorBanner error={streams.error} />
      {streams.loading && <Busy label="Loading streams…" />}
      {streams.data && !streams.data.streams.length && (
        <p>
          No streams yet. <a href="/ingest">Send some data</a> to create one.
        </p>
      )}
      {streams.data && streams.data.streams.length > 0 && (
        <div class="table-scroll">
          <table>
            <caption>{streams.data.streams.length} streams</caption>
            <thead>
              <tr>
                <th scope="col">Stream</th>
                <th scope="col">Rows</th>
                <th scope="col">Stored</th>
                <th scope="col">Files</th>
                <th scope="col">Latest row</th>
                <th scope="col">Retention</th>
              </tr>
            </thead>
            <tbody>
              {streams.data.streams.map((s) => (
                <tr key={s.name}>
                  <th scope="row">
                    <a href={`/streams/${encodeURIComponent(s.name)}`}>{s.name}</a>
                  </th>
                  <td>{s.stats.rows}</td>
                  <td>{formatBytes(s.stats.bytes)}</td>
                  <td>{s.stats.files}</td>
                  <td>{formatMicros(s.stats.last_timestamp)}</td>
                  <td>{s.settings.retention_days} days</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
