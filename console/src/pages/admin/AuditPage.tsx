import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, ErrorBanner, useAsync } from "../../components/ui";

export function AuditPage() {
  // A stack of cursors: the first page has none; "Newer" pops, "Older" pushes the next cursor.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const page = useAsync(
    () => api.get<Schemas["AuditPage"]>(`/api/v1/audit?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
    [cursor],
  );
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <ErrorBanner error={page.error} />
      {page.loading && <Busy label="Loading audit entries…" />}
      {page.data && (
        <>
          <div class="table-scroll">
            <table>
              <caption>Audit entries, newest first (page {cursors.length + 1})</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Action</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Target</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Source IP</th>
                </tr>
              </thead>
              <tbody>
                {page.data.items.map((e) => (
                  <tr key={e.id}>
                    <td>{e.time}</td>
                    <td>{e.action}</td>
                    <td>{e.actor}</td>
                    <td>{e.target}</td>
                    <td>{e.outcome}</td>
                    <td>{e.source_ip}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Audit pages">
            <button type="button" disabled={!cursors.length} onClick={() => setCursors(cursors.slice(0, -1))}>
              Newer entries
            </button>
            <button
              type="button"
              disabled={!page.data.has_more || !page.data.next_cursor}
              onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}
            >
              Older entries
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
