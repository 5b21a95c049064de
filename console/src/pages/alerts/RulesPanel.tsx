import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, ConfirmDialog, ErrorBanner, ListTable, Notice, useAction, useAsync } from "../../components/ui";
import { ruleBody, type RuleDraft } from "./ruleBody";

type Rule = Schemas["AlertRule"];

const EMPTY: RuleDraft = {
  name: "",
  kind: "realtime",
  severity: "warning",
  destinations: [],
  groupBy: "",
  message: "",
  stream: "",
  where: "",
  resolveAfterS: "",
  query: "",
  everyMinutes: "5",
  windowMinutes: "5",
  op: ">",
  threshold: "",
  forS: "",
};

export function RulesPanel({ canChange }: { canChange: boolean }) {
  const rules = useAsync(() => api.get<Schemas["AlertRuleList"]>("/api/v1/alerts/rules"), []);
  const destinations = useAsync(() => api.get<Schemas["AlertDestinationList"]>("/api/v1/alerts/destinations"), []);
  const [draft, setDraft] = useState<RuleDraft>(EMPTY);
  const action = useAction();
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const set = (key: keyof RuleDraft) => (event: { currentTarget: { value: string } }) =>
    setDraft({ ...draft, [key]: event.currentTarget.value });
  const names = new Map((destinations.data?.items ?? []).map((d) => [d.id, d.name]));

  const act = (what: string, call: () => Promise<unknown>) => action.run(what, call, rules.reload);

  return (
    <div>
      {canChange && (
        <form
          class="card"
          aria-labelledby="new-rule-title"
          onSubmit={(event) => {
            event.preventDefault();
            void act(`Rule ${draft.name} created.`, async () => {
              await api.post<Rule>("/api/v1/alerts/rules", ruleBody(draft));
              setDraft(EMPTY);
            });
          }}
        >
          <h2 id="new-rule-title">New rule</h2>
          <div class="row wrap">
            <label>
              Rule name
              <input required value={draft.name} onInput={set("name")} />
            </label>
            <label>
              Kind
              <select value={draft.kind} onChange={set("kind")}>
                <option value="realtime">realtime (each landed batch)</option>
                <option value="scheduled">scheduled (a query every N minutes)</option>
              </select>
            </label>
            <label>
              Severity
              <select value={draft.severity} onChange={set("severity")}>
                <option value="critical">critical</option>
                <option value="warning">warning</option>
                <option value="info">info</option>
              </select>
            </label>
            <label>
              Group by (columns, comma-separated)
              <input value={draft.groupBy} onInput={set("groupBy")} placeholder="service" />
            </label>
          </div>
          {draft.kind === "realtime" ? (
            <div class="row wrap">
              <label>
                Stream
                <input required value={draft.stream} onInput={set("stream")} />
              </label>
              <label class="grow">
                Condition (SQL on each row)
                <input required value={draft.where} onInput={set("where")} placeholder="level = 'error'" />
              </label>
              <label>
                Resolve after quiet (seconds)
                <input type="number" min={0} value={draft.resolveAfterS} onInput={set("resolveAfterS")} />
              </label>
            </div>
          ) : (
            <div class="row wrap">
              <label class="grow">
                Query (SQL)
                <textarea required rows={3} value={draft.query} onInput={set("query")} placeholder="SELECT count(*) AS value FROM app WHERE level = 'error'" />
              </label>
              <label>
                Every (minutes)
                <input type="number" min={1} required value={draft.everyMinutes} onInput={set("everyMinutes")} />
              </label>
              <label>
                Window (minutes)
                <input type="number" min={1} required value={draft.windowMinutes} onInput={set("windowMinutes")} />
              </label>
              <label>
                Fires when the value is
                <select value={draft.op} onChange={set("op")}>
                  <option value=">">above</option>
                  <option value=">=">at least</option>
                  <option value="<">below</option>
                  <option value="<=">at most</option>
                  <option value="no_data">missing (no rows)</option>
                </select>
              </label>
              {draft.op !== "no_data" && (
                <label>
                  Threshold
                  <input type="number" step="any" required value={draft.threshold} onInput={set("threshold")} />
                </label>
              )}
              <label>
                Holds for (seconds) before firing
                <input type="number" min={0} value={draft.forS} onInput={set("forS")} />
              </label>
            </div>
          )}
          <fieldset class="row wrap">
            <legend>Send to</legend>
            {(destinations.data?.items ?? []).map((d) => (
              <label key={d.id} class="check">
                <input
                  type="checkbox"
                  checked={draft.destinations.includes(d.id)}
                  onChange={(e) =>
                    setDraft({
                      ...draft,
                      destinations: e.currentTarget.checked
                        ? [...draft.destinations, d.id]
                        : draft.destinations.filter((id) => id !== d.id),
                    })
                  }
                />
                {d.name} ({d.type})
              </label>
            ))}
            {destinations.data && !destinations.data.items.length && (
              <p>
                No destinations yet: <a href="/alerts/destinations">add one</a>.
              </p>
            )}
          </fieldset>
          <div class="row wrap">
            <label class="grow">
              Message template (optional, e.g. {"{{count}} errors in {{service}}"})
              <input value={draft.message} onInput={set("message")} />
            </label>
            <button type="submit" class="primary">
              Create rule
            </button>
          </div>
        </form>
      )}
      <ErrorBanner error={action.error ?? rules.error ?? destinations.error} />
      {action.notice && <Notice>{action.notice}</Notice>}
      {rules.loading && <Busy label="Loading rules…" />}
      {rules.data && (
        <ListTable caption={`${rules.data.items.length} rules`} columns={["Name", "Kind", "Watches", "Severity", "Sends to", "Status"]} actions>
          {rules.data.items.map((r) => (
            <tr key={r.id}>
              <th scope="row">{r.name}</th>
              <td>{r.kind}</td>
              <td>
                <code>{r.kind === "realtime" ? `${r.stream}: ${r.where}` : r.query}</code>
                {r.group_by.length > 0 && <div>grouped by {r.group_by.join(", ")}</div>}
              </td>
              <td>{r.severity}</td>
              <td>{r.destinations.map((id) => names.get(id) ?? id).join(", ") || "—"}</td>
              <td>
                {r.enabled ? "enabled" : "disabled"}
                {r.last_error && <div class="error-text">{r.last_error}</div>}
              </td>
              <td class="row">
                {canChange && (
                  <button
                    type="button"
                    aria-label={`${r.enabled ? "Disable" : "Enable"} rule ${r.name}`}
                    onClick={() =>
                      void act(`Rule ${r.name} ${r.enabled ? "disabled" : "enabled"}.`, () =>
                        api.post(`/api/v1/alerts/rules/${encodeURIComponent(r.id)}/${r.enabled ? "disable" : "enable"}`, {}),
                      )
                    }
                  >
                    {r.enabled ? "Disable" : "Enable"}
                  </button>
                )}
                {canChange && (
                  <button type="button" class="danger" aria-label={`Delete rule ${r.name}`} onClick={() => setDeleting(r)}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </ListTable>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete rule ${deleting.name}?`}
          message="Its alerts stop; its history stays."
          confirmLabel="Delete rule"
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            const gone = deleting;
            setDeleting(null);
            void act(`Rule ${gone.name} deleted.`, () => api.delete(`/api/v1/alerts/rules/${encodeURIComponent(gone.id)}`));
          }}
        />
      )}
    </div>
  );
}
