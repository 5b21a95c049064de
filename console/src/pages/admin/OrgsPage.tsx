import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import type { StoredSession } from "../../api/session";
import { Busy, ErrorBanner, Notice, useAsync } from "../../components/ui";
import { formatBytes } from "../../lib/format";

export function OrgsPage({ session }: { session: StoredSession }) {
  const orgs = useAsync(() => api.get<Schemas["OrgList"]>("/api/v1/orgs"), []);
  const [selected, setSelected] = useState<string | null>(null);
  const [form, setForm] = useState({ id: "", name: "" });
  const [error, setError] = useState<unknown>(null);
  const isRoot = session.role === "root";
  const current = selected ?? orgs.data?.orgs[0]?.id ?? null;
  return (
    <section aria-labelledby="orgs-title">
      <h1 id="orgs-title">Organisations and quotas</h1>
      <ErrorBanner error={error ?? orgs.error} />
      {isRoot && (
        <form
          class="card row wrap"
          aria-labelledby="new-org-title"
          onSubmit={async (event) => {
            event.preventDefault();
            setError(null);
            try {
              await api.post("/api/v1/orgs", form);
              setForm({ id: "", name: "" });
              orgs.reload();
            } catch (caught) {
              setError(caught);
            }
          }}
        >
          <h2 id="new-org-title">New organisation</h2>
          <label>
            Org id
            <input required value={form.id} onInput={(e) => setForm({ ...form, id: e.currentTarget.value })} />
          </label>
          <label>
            Name
            <input required value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
          </label>
          <button type="submit" class="primary">
            Create organisation
          </button>
        </form>
      )}
      {orgs.loading && <Busy label="Loading organisations…" />}
      {orgs.data && (
        <div class="table-scroll">
          <table>
            <caption>{orgs.data.orgs.length} organisations</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Name</th>
                <th scope="col">Ingestion</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {orgs.data.orgs.map((o) => (
                <tr key={o.id} aria-selected={o.id === current}>
                  <th scope="row">{o.id}</th>
                  <td>{o.name}</td>
                  <td>{o.ingestion_paused ? "paused" : "on"}</td>
                  <td>
                    <button type="button" onClick={() => setSelected(o.id)}>
                      Quotas of {o.id}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {current && <Quotas orgId={current} editable={isRoot} />}
    </section>
  );
}

function Quotas({ orgId, editable }: { orgId: string; editable: boolean }) {
  const path = `/api/v1/orgs/${encodeURIComponent(orgId)}/quotas`;
  const quota = useAsync(() => api.get<Schemas["QuotaOut"]>(path), [orgId]);
  const [form, setForm] = useState({ ingest_qps: "", query_qps: "", storage_bytes: "" });
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (quota.data)
      setForm({
        ingest_qps: String(quota.data.ingest_qps),
        query_qps: String(quota.data.query_qps),
        storage_bytes: String(quota.data.storage_bytes),
      });
  }, [quota.data]);
  const usage = (quota.data?.usage ?? {}) as Record<string, number>;
  return (
    <form
      class="card"
      aria-labelledby="quota-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setError(null);
        setSaved(false);
        try {
          await api.put(path, {
            ingest_qps: Number(form.ingest_qps),
            query_qps: Number(form.query_qps),
            storage_bytes: Number(form.storage_bytes),
          });
          setSaved(true);
          quota.reload();
        } catch (caught) {
          setError(caught);
        }
      }}
    >
      <h2 id="quota-title">Quotas of {orgId}</h2>
      <ErrorBanner error={error ?? quota.error} />
      {saved && <Notice>Quotas saved.</Notice>}
      {quota.data && (
        <p>
          Storage used: {formatBytes(Number(usage.storage_bytes ?? 0))} of {formatBytes(quota.data.storage_bytes)}
        </p>
      )}
      <label>
        Ingest requests per second
        <input type="number" min={0} disabled={!editable} value={form.ingest_qps} onInput={(e) => setForm({ ...form, ingest_qps: e.currentTarget.value })} />
      </label>
      <label>
        Query requests per second
        <input type="number" min={0} disabled={!editable} value={form.query_qps} onInput={(e) => setForm({ ...form, query_qps: e.currentTarget.value })} />
      </label>
      <label>
        Storage (bytes)
        <input type="number" min={0} disabled={!editable} value={form.storage_bytes} onInput={(e) => setForm({ ...form, storage_bytes: e.currentTarget.value })} />
      </label>
      {editable ? (
        <button type="submit" class="primary">
          Save quotas
        </button>
      ) : (
        <p class="hint">Only root changes quotas.</p>
      )}
    </form>
  );
}
