import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, ConfirmDialog, ErrorBanner, ListTable, Notice, useAction, useAsync } from "../../components/ui";
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
  const action = useAction();
  const [expiring, setExpiring] = useState<Silence | null>(null);
  return (
    <div>
      {canChange && (
        <form
          class="card row wrap"
          aria-labelledby="new-silence-title"
          onSubmit={(event) => {
            event.preventDefault();
            const endsAt = Math.round((Date.now() + Number(hours) * 3_600_000) * 1000);
            const body = { matchers: [{ name: label, op, value }], ends_at: endsAt, comment };
            void action.run(
              `Silence on ${label} ${op} "${value}" created.`,
              () => api.post<Silence>("/api/v1/alerts/silences", body),
              () => {
                setValue("");
                setComment("");
                list.reload();
              },
            );
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
      <ErrorBanner error={action.error ?? list.error} />
      {action.notice && <Notice>{action.notice}</Notice>}
      {list.loading && <Busy label="Loading silences…" />}
      {list.data && (
        <ListTable caption={`${list.data.items.length} silences`} columns={["Matches", "State", "Ends", "Comment", "By"]} actions>
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
        </ListTable>
      )}
      {expiring && (
        <ConfirmDialog
          title="Expire this silence?"
          message={`Notifications matching ${matchersText(expiring)} are sent again from now on.`}
          confirmLabel="Expire silence"
          onCancel={() => setExpiring(null)}
          onConfirm={() => {
            const target = expiring;
            setExpiring(null);
            void action.run(
              "Silence expired.",
              () => api.delete(`/api/v1/alerts/silences/${encodeURIComponent(target.id)}`),
              list.reload,
            );
          }}
        />
      )}
    </div>
  );
}
