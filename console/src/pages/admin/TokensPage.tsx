import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import type { StoredSession } from "../../api/session";
import { Busy, ConfirmDialog, CopyBlock, ErrorBanner, useAsync } from "../../components/ui";

const ROLES = ["viewer", "ingest", "editor", "admin"];

export function TokensPage({ session }: { session: StoredSession }) {
  const tokens = useAsync(() => api.get<Schemas["TokenList"]>("/api/v1/tokens"), []);
  const [name, setName] = useState("");
  const [role, setRole] = useState("viewer");
  const [days, setDays] = useState("");
  const [created, setCreated] = useState<Schemas["CreatedTokenOut"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [revoking, setRevoking] = useState<Schemas["TokenOut"] | null>(null);
  const roles = session.role === "root" ? [...ROLES] : ROLES;
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">API tokens</h1>
      <form
        class="card row wrap"
        aria-labelledby="new-token-title"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          try {
            const body: Record<string, unknown> = { name, role };
            if (days) body.expires_in_days = Number(days);
            setCreated(await api.post<Schemas["CreatedTokenOut"]>("/api/v1/tokens", body));
            setName("");
            tokens.reload();
          } catch (caught) {
            setError(caught);
          }
        }}
      >
        <h2 id="new-token-title">New token</h2>
        <label>
          Name
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            {roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          Expires in (days, optional)
          <input type="number" min={1} value={days} onInput={(e) => setDays(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">
          Create token
        </button>
      </form>
      <ErrorBanner error={error ?? tokens.error} />
      {created && (
        <CopyBlock label={`Secret of token ${created.name} (shown once)`} text={created.token} />
      )}
      {tokens.loading && <Busy label="Loading tokens…" />}
      {tokens.data && (
        <div class="table-scroll">
          <table>
            <caption>{tokens.data.tokens.length} tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.tokens.map((t) => (
                <tr key={t.id}>
                  <th scope="row">{t.name}</th>
                  <td>
                    <code>{t.prefix}</code>
                  </td>
                  <td>{t.role}</td>
                  <td>{t.created_at}</td>
                  <td>{t.last_used_at ?? "never"}</td>
                  <td>{t.revoked ? "revoked" : t.expires_at ? `expires ${t.expires_at}` : "active"}</td>
                  <td>
                    {!t.revoked && (
                      <button type="button" class="danger" aria-label={`Revoke token ${t.name}`} onClick={() => setRevoking(t)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke token ${revoking.name}?`}
          message="Clients using it are refused from now on."
          confirmLabel="Revoke token"
          onCancel={() => setRevoking(null)}
          onConfirm={async () => {
            const target = revoking;
            setRevoking(null);
            try {
              await api.delete(`/api/v1/tokens/${encodeURIComponent(target.id)}`);
              tokens.reload();
            } catch (caught) {
              setError(caught);
            }
          }}
        />
      )}
    </section>
  );
}
