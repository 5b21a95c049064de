import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, ConfirmDialog, ErrorBanner, Notice, useAsync } from "../../components/ui";
import { formatMicros } from "../../lib/format";

type Silence = Schemas["AlertSilence"];

export function matchersText(s: Silence): string {
  return s.matchers.map((m) => `${m.name} ${m.op ?? "="} "${m.value}"`).join(", ");
}

export function SilencesPanel({ canChange }: { canChange: boolean }) {
  const list = useAsync(() => api.get<Schemas["AlertSilenceList"]>("/api/v1/alerts/silences"), []);
  const [label, setLabel] = useState("rule");
  const [op, setOp] = useState("=");
  const [value, setValue] = useState("");
  const [hours, setHours] = useState("2");
  const [comment, setComment] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [expiring, setExpiring] = useState<Silence | null>(null);
  return (
    <div>
      {canChange && (
        <form
          class="card row wrap"
          aria-labelledby="new-silence-title"
          onSubmit={async (event) => {
            event.preventDefault();
            setError(null);
            setNotice("");
            const endsAt = (Date.now() + Number(hours) * 3_600_000) * 1000;
            try {
              await api.post<Silence>("/api/v1/alerts/silences", {
                matchers: [{ name: label, op, value }],
                ends_at: Math.round(endsAt),
                comment,
              });
              setNotice(`Silence on ${label} ${op} "${value}" created.`);
              setValue("");
              setComment("");
              list.reload();
            } catch (caught) {
              setError(caught);
            }
          }}
        >
          <h2 id="new-silence-title">New silence</h2>
          <label>
            Label
            <input required value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
          </label>
          <label>
            Match
            <select value={op} onChange={(e) => setOp(e.currentTarget.value)}>
              <option value="=">equals</option>
              <option value="!=">differs from</option>
              <option value="=~">matches the regex</option>
              <option value="!~">does not match the regex</option>
            </select>
          </label>
          <label>
            Value
            <input value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          </label>
          <label>
            For (hours)
            <input type="number" min={0.05} step="any" required value={hours} onInput={(e) => setHours(e.currentTarget.value)} />
          </label>
          <label class="grow">
            Comment
            <input value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary">
            Create silence
          </button>
        </form>
      )}
      <ErrorBanner error={error ?? list.error} />
      {notice && <Notice>{notice}</Notice>}
      {list.loading && <Busy label="Loading silences…" />}
      {list.data && (
        <div class="table-scroll">
          <table>
            <caption>{list.data.items.length} silences</caption>
            <thead>
              <tr>
                <th scope="col">Matches</th>
                <th scope="col">State</th>
                <th scope="col">Ends</th>
                <th scope="col">Comment</th>
                <th scope="col">By</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((s) => (
                <tr key={s.id}>
                  <th scope="row">
                    <code>{matchersText(s)}</code>
                  </th>
                  <td>{s.state}</td>
                  <td>{formatMicros(s.ends_at)}</td>
                  <td>{s.comment}</td>
                  <td>{s.created_by}</td>
                  <td>
                    {canChange && s.state !== "expired" && (
                      <button type="button" class="danger" aria-label={`Expire silence ${matchersText(s)}`} onClick={() => setExpiring(s)}>
                        Expire
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {expiring && (
        <ConfirmDialog
          title="Expire this silence?"
          message={`Notifications matching ${matchersText(expiring)} are sent again from now on.`}
          confirmLabel="Expire silence"
          onCancel={() => setExpiring(null)}
          onConfirm={async () => {
            const target = expiring;
            setExpiring(null);
            try {
              await api.delete(`/api/v1/alerts/silences/${encodeURIComponent(target.id)}`);
              setNotice("Silence expired.");
              list.reload();
            } catch (caught) {
              setError(caught);
            }
          }}
        />
      )}
    </div>
  );
}
