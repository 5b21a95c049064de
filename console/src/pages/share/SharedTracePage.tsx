// The /r/<shortId> share viewer: the same trace detail as the Traces page, read through the
// share (/v1/shares/<shortId>). Signed out it opens public links; signed in as a member of the
// trace's org it opens org-only ones too. /r/<shortId>/embed is the same without the console's
// chrome, for iframes.
import { ApiError } from "../../api/errors";
import { ErrorBanner } from "../../components/ui";
import { type TraceDetailData, TraceDetail, traceTitle } from "../traces/TraceDetail";
import type { ShareRoute } from "./shareRoute";

type SharedTrace = TraceDetailData & { member?: boolean };

function Unavailable(props: { error: unknown; signedIn: boolean; embed: boolean; here: string }) {
  if (props.error instanceof ApiError && props.error.status === 410) {
    return (
      <section aria-labelledby="share-gone">
        <h1 id="share-gone">This share link has expired</h1>
        <p>Whoever shared the trace can share it again with a new expiry.</p>
      </section>
    );
  }
  if (props.error instanceof ApiError && props.error.status === 404) {
    return (
      <section aria-labelledby="share-missing">
        <h1 id="share-missing">Trace not found or not shared</h1>
        <p>No trace is shared with you under this link. The link may be mistyped, or the trace is shared with the members of its organisation only.</p>
        {!props.signedIn && !props.embed && (
          <p>
            If you are a member, <a href={`/login?next=${encodeURIComponent(props.here)}`}>sign in</a> and open the
            link again.
          </p>
        )}
      </section>
    );
  }
  return <ErrorBanner error={props.error} />;
}

export function SharedTracePage(props: { route: ShareRoute; signedIn: boolean }) {
  const { shortId, embed } = props.route;
  const here = `/r/${encodeURIComponent(shortId)}`;
  return (
    <TraceDetail<SharedTrace>
      base={`/v1/shares/${encodeURIComponent(shortId)}`}
      label={shortId}
      heading="h1"
      failure={(error) => <Unavailable error={error} signedIn={props.signedIn} embed={embed} here={here} />}
      onLoaded={(trace) => {
        document.title = `${traceTitle(trace, shortId)} — shared trace — MoleSignal`;
      }}
      actions={(trace) =>
        embed ? (
          <p class="hint">
            <a href={here} target="_blank" rel="noopener noreferrer">
              Open this trace in MoleSignal
            </a>
          </p>
        ) : trace.member ? (
          <p class="hint">
            You are a member of this trace's organisation: <a href={`/traces?trace=${trace.id}`}>open it in Traces</a>{" "}
            to pin, share or replay it.
          </p>
        ) : null
      }
    />
  );
}
