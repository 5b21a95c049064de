import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { CopyBlock, ErrorBanner, Notice } from "../../components/ui";
import { ingestSnippets } from "./snippets";

export function IngestPage() {
  const [token, setToken] = useState<string | null>(null);
  const [name, setName] = useState("shipper");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const base = window.location.origin;
  return (
    <section aria-labelledby="ingest-title">
      <h1 id="ingest-title">Ingest</h1>
      <p>
        Send data in the formats your tools already speak. Every protocol answers at once and lands rows in the lake within
        seconds. Client-by-client notes are in <code>docs/clients.md</code>.
      </p>
      <form
        class="card row wrap"
        aria-labelledby="ingest-token-title"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const created = await api.post<Schemas["CreatedTokenOut"]>("/api/v1/tokens", { name, role: "ingest" });
            setToken(created.token);
          } catch (caught) {
            setError(caught);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2 id="ingest-token-title">Ingest token</h2>
        <label>
          Token name
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          Create ingest token
        </button>
      </form>
      <ErrorBanner error={error} />
      {token && <Notice>A new ingest token is filled into every example below. Its secret is shown only now: copy it.</Notice>}
      {ingestSnippets(base, token ?? "<ingest token>").map((snippet) => (
        <CopyBlock key={snippet.title} label={snippet.title} text={snippet.body} />
      ))}
    </section>
  );
}
