import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, ConfirmDialog, ErrorBanner, ListTable, Notice, useAction, useAsync } from "../../components/ui";

type Destination = Schemas["AlertDestination"];
type Report = Schemas["AlertDeliveryReport"];

const TYPES = [
  { value: "webhook", label: "Webhook", field: "url", fieldLabel: "URL" },
  { value: "slack", label: "Slack", field: "url", fieldLabel: "Slack webhook URL" },
  { value: "email", label: "E-mail", field: "address", fieldLabel: "E-mail address" },
  { value: "sns", label: "SNS topic", field: "topic_arn", fieldLabel: "Topic ARN" },
] as const;

export function target(d: Destination): string {
  return d.url ?? d.address ?? d.topic_arn ?? "";
}

export function DestinationsPanel({ canChange }: { canChange: boolean }) {
  const list = useAsync(() => api.get<Schemas["AlertDestinationList"]>("/api/v1/alerts/destinations"), []);
  const [name, setName] = useState("");
  const [type, setType] = useState<(typeof TYPES)[number]["value"]>("webhook");
  const [where, setWhere] = useState("");
  const [secret, setSecret] = useState("");
  const action = useAction();
  const [testing, setTesting] = useState<string | null>(null);
  const [report, setReport] = useState<{ name: string; report: Report } | null>(null);
  const [deleting, setDeleting] = useState<Destination | null>(null);
  const kind = TYPES.find((t) => t.value === type) ?? TYPES[0];

  const sendTest = async (d: Destination) => {
    setReport(null);
    setTesting(d.id);
    await action.run("", async () => {
      const answer = await api.post<Report>(`/api/v1/alerts/destinations/${encodeURIComponent(d.id)}/test`, {});
      setReport({ name: d.name, report: answer });
    });
    setTesting(null);
  };

  return (
    <div>
      {canChange && (
        <form
          class="card row wrap"
          aria-labelledby="new-destination-title"
          onSubmit={(event) => {
            event.preventDefault();
            const body: Record<string, unknown> = { name, type, [kind.field]: where };
            if (type === "webhook" && secret) body.secret = secret;
            void action.run(
              `Destination ${name} added.`,
              () => api.post<Destination>("/api/v1/alerts/destinations", body),
              () => {
                setName("");
                setWhere("");
                setSecret("");
                list.reload();
              },
            );
          }}
        >
          <h2 id="new-destination-title">New destination</h2>
          <label>
            Destination name
            <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Type
            <select value={type} onChange={(e) => setType(e.currentTarget.value as typeof type)}>
              {TYPES.map((t) => (
                <option key={t.value} value={t.value}>
                  {t.label}
                </option>
              ))}
            </select>
          </label>
          <label class="grow">
            {kind.fieldLabel}
            <input required value={where} onInput={(e) => setWhere(e.currentTarget.value)} />
          </label>
          {type === "webhook" && (
            <label>
              Signing secret (optional, 16+ characters)
              <input type="password" autoComplete="off" value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />
            </label>
          )}
          <button type="submit" class="primary">
            Add destination
          </button>
        </form>
      )}
      <ErrorBanner error={action.error ?? list.error} />
      {action.notice && <Notice>{action.notice}</Notice>}
      {testing && <Busy label="Sending a test notification…" />}
      {report && (
        <div role="status" class={`banner ${report.report.ok ? "notice" : "error"}`} aria-label="Test result">
          Test to {report.name}: {report.report.ok ? "delivered" : "not delivered"}
          {report.report.status !== null && report.report.status !== undefined
            ? ` — the receiver answered HTTP ${report.report.status}`
            : ""}{" "}
          in {Math.round(report.report.took_ms)} ms. {report.report.detail && <q>{report.report.detail}</q>}
        </div>
      )}
      {list.loading && <Busy label="Loading destinations…" />}
      {list.data && (
        <ListTable caption={`${list.data.items.length} destinations`} columns={["Name", "Type", "Sends to", "Signed"]} actions>
          {list.data.items.map((d) => (
            <tr key={d.id}>
              <th scope="row">{d.name}</th>
              <td>{d.type}</td>
              <td>
                <code>{target(d)}</code>
              </td>
              <td>{d.has_secret ? "yes" : "no"}</td>
              <td class="row">
                {canChange && (
                  <button type="button" disabled={testing !== null} aria-label={`Send a test to ${d.name}`} onClick={() => void sendTest(d)}>
                    Test
                  </button>
                )}
                {canChange && (
                  <button type="button" class="danger" aria-label={`Delete destination ${d.name}`} onClick={() => setDeleting(d)}>
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
          title={`Delete destination ${deleting.name}?`}
          message="Rules that name it stop sending there."
          confirmLabel="Delete destination"
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            const gone = deleting;
            setDeleting(null);
            void action.run(
              `Destination ${gone.name} deleted.`,
              () => api.delete(`/api/v1/alerts/destinations/${encodeURIComponent(gone.id)}`),
              list.reload,
            );
          }}
        />
      )}
    </div>
  );
}
