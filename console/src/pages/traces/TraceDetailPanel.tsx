import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { ErrorBanner, Notice } from "../../components/ui";
import { download } from "../../lib/format";
import { TraceDetail, type TraceDetailData } from "./TraceDetail";

/** The signed-in Traces page's detail: the shared TraceDetail with what members may do to it. */
export function TraceDetailPanel(props: {
  traceId: string;
  canChange: boolean;
  onChanged: () => void;
  onClose: () => void;
}) {
  const path = `/v1/traces/${encodeURIComponent(props.traceId)}`;
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [share, setShare] = useState<Schemas["ShareResponse"] | null>(null);
  const [visibility, setVisibility] = useState("org-only");
  const [days, setDays] = useState("7");

  async function act(run: () => Promise<string | null>): Promise<void> {
    setError(null);
    setNotice(null);
    try {
      setNotice(await run());
      setVersion((v) => v + 1);
      props.onChanged();
    } catch (caught) {
      setError(caught);
    }
  }

  const actions = (trace: TraceDetailData) => (
    <>
      <div class="row wrap">
        {props.canChange && (
          <button
            type="button"
            onClick={() =>
              act(async () => {
                const done = await api.post<Schemas["PinResponse"]>(`${path}/${trace.pinned ? "unpin" : "pin"}`);
                return done.pinned ? "Pinned: the trace stays in its tier." : "Unpinned: the trace ages again.";
              })
            }
          >
            {trace.pinned ? "Unpin" : "Pin"}
          </button>
        )}
        {props.canChange && trace.tier !== "hot" && (
          <button
            type="button"
            onClick={() =>
              act(async () => {
                const done = await api.post<Schemas["RestoreResponse"]>(`${path}/restore`);
                return done.status === "restoring"
                  ? `Restoring: about ${done.eta_seconds} s.`
                  : "Restored: the trace is hot again.";
              })
            }
          >
            Restore
          </button>
        )}
        {trace.tier !== "cold" && (
          <button
            type="button"
            onClick={() =>
              act(async () => {
                const report = await api.get<string>(`${path}/report.md`);
                download(`trace-${trace.id}.md`, report, "text/markdown");
                return null;
              })
            }
          >
            Download report
          </button>
        )}
        <button type="button" onClick={props.onClose}>
          Close trace
        </button>
      </div>
      {props.canChange && (
        <form
          class="row wrap"
          aria-label="Share the trace"
          onSubmit={(event) => {
            event.preventDefault();
            act(async () => {
              const body = { visibility, expires_days: days ? Number(days) : null };
              setShare(await api.post<Schemas["ShareResponse"]>(`${path}/share`, body));
              return null;
            });
          }}
        >
          <label>
            Visibility
            <select value={visibility} onChange={(e) => setVisibility(e.currentTarget.value)}>
              <option value="org-only">org members only</option>
              <option value="public-read">anyone with the link</option>
            </select>
          </label>
          <label>
            Expires after (days)
            <input
              type="number"
              min={1}
              max={365}
              value={days}
              placeholder="never"
              onInput={(e) => setDays(e.currentTarget.value)}
            />
          </label>
          <button type="submit">Share</button>
        </form>
      )}
      {trace.share && (
        <div class="row wrap">
          <p>
            Shared with {trace.share.visibility === "public-read" ? "anyone with the link" : "org members only"}
            {trace.share.expires_at ? ` until ${trace.share.expires_at}` : ", no expiry"}:{" "}
            <a href={`/r/${trace.short_id ?? ""}`}>{`/r/${trace.short_id ?? ""}`}</a>
          </p>
          {props.canChange && (
            <button
              type="button"
              onClick={() =>
                act(async () => {
                  await api.delete<Schemas["UnshareResponse"]>(`${path}/share`);
                  setShare(null);
                  return "Sharing stopped: the link now answers “not found” to everyone outside the org.";
                })
              }
            >
              Stop sharing
            </button>
          )}
        </div>
      )}
      {share && (
        <Notice>
          Share link ({share.visibility}
          {share.expires_at ? `, until ${share.expires_at}` : ", no expiry"}):{" "}
          <a href={share.url} target="_blank" rel="noopener noreferrer">
            {share.url}
          </a>
        </Notice>
      )}
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
    </>
  );

  return (
    <section class="card" aria-labelledby="trace-detail-title">
      <TraceDetail base={path} label={props.traceId} heading="h2" version={version} actions={actions} />
    </section>
  );
}
