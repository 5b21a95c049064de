import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import type { StoredSession } from "../../api/session";
import { Busy, ConfirmDialog, ErrorBanner, Notice, useAsync } from "../../components/ui";
import { formatBytes, formatMicros } from "../../lib/format";
import { navigate } from "../../lib/router";

export function StreamDetailPage({ name, session }: { name: string; session: StoredSession }) {
  const path = `/api/v1/streams/${encodeURIComponent(name)}`;
  const stream = useAsync(() => api.get<Schemas["StreamOut"]>(path), [name]);
  const [retention, setRetention] = useState("");
  const [fieldCap, setFieldCap] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  // The settings form appears once its fields hold the loaded values: shown earlier, what a
  // user typed in the first moment was overwritten when the values arrived.
  const [formReady, setFormReady] = useState(false);

  useEffect(() => {
    if (stream.data) {
      setRetention(String(stream.data.settings.retention_days));
      setFieldCap(String(stream.data.settings.field_cap));
      setFormReady(true);
    }
  }, [stream.data]);

  const canEdit = ["root", "admin", "editor"].includes(session.role);
  const canDelete = ["root", "admin"].includes(session.role);

  return (
    <section aria-labelledby="stream-title">
      <p>
        <a href="/streams">← All streams</a>
      </p>
      <h1 id="stream-title">Stream {name}</h1>
      <ErrorBanner error={stream.error ?? error} />
      {saved && <Notice>{saved}</Notice>}
      {stream.loading && <Busy label="Loading stream…" />}
      {deleting && <Busy label="Deleting stream…" />}
      {stream.data && (
        <>
          <dl class="stats">
            <dt>Rows</dt>
            <dd>{stream.data.stats.rows}</dd>
            <dt>Stored</dt>
            <dd>{formatBytes(stream.data.stats.bytes)}</dd>
            <dt>Files</dt>
            <dd>{stream.data.stats.files}</dd>
            <dt>First row</dt>
            <dd>{formatMicros(stream.data.stats.first_timestamp)}</dd>
            <dt>Latest row</dt>
            <dd>{formatMicros(stream.data.stats.last_timestamp)}</dd>
          </dl>
          <p>
            <a href={`/query?q=${encodeURIComponent(`SELECT * FROM ${name} ORDER BY _timestamp DESC LIMIT 100`)}`}>Query this stream</a>
          </p>
          {formReady && (
            <form
              class="card"
              aria-labelledby="settings-title"
              onSubmit={async (event) => {
                event.preventDefault();
                setError(null);
                setSaved(null);
                try {
                  await api.patch(path, { retention_days: Number(retention), field_cap: Number(fieldCap) });
                  setSaved("Settings saved.");
                  stream.reload();
                } catch (caught) {
                  setError(caught);
                }
              }}
            >
              <h2 id="settings-title">Settings</h2>
              <label>
                Retention (days)
                <input type="number" min={1} required disabled={!canEdit} value={retention} onInput={(e) => setRetention(e.currentTarget.value)} />
              </label>
              <label>
                Field cap (columns)
                <input type="number" min={1} required disabled={!canEdit} value={fieldCap} onInput={(e) => setFieldCap(e.currentTarget.value)} />
              </label>
              <button type="submit" class="primary" disabled={!canEdit}>
                Save settings
              </button>
            </form>
          )}
          <div class="table-scroll">
            <table>
              <caption>Schema: {stream.data.schema.length} columns</caption>
              <thead>
                <tr>
                  <th scope="col">Column</th>
                  <th scope="col">Type</th>
                </tr>
              </thead>
              <tbody>
                {stream.data.schema.map((f) => (
                  <tr key={f.name}>
                    <td>{f.name}</td>
                    <td>{f.type}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {canDelete && (
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete stream
            </button>
          )}
          {confirming && (
            <ConfirmDialog
              title={`Delete stream ${name}?`}
              message="Every row of this stream is removed. This cannot be undone."
              confirmLabel="Delete stream"
              expect={name}
              onCancel={() => setConfirming(false)}
              onConfirm={async () => {
                setConfirming(false);
                setDeleting(true);
                try {
                  await api.delete(path);
                  navigate("/streams");
                } catch (caught) {
                  setError(caught);
                } finally {
                  setDeleting(false);
                }
              }}
            />
          )}
        </>
      )}
    </section>
  );
}
