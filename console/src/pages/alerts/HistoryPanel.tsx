import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, CursorPager, ErrorBanner, ListTable, useAsync } from "../../components/ui";

type Entry = Schemas["AlertHistoryEntry"];
const PAGE_SIZE = 25;

/** What an entry says, in words: a state change, a delivery attempt, a silenced notification. */
export function describeEntry(e: Entry): string {
  if (e.type === "transition") return `${e.from_state ?? "new"} → ${e.to_state ?? "?"}${e.reason ? ` (${e.reason})` : ""}`;
  if (e.type === "silenced") return `${e.notification_status ?? ""} notification muted by silence ${e.silence_id ?? ""}`;
  const detail = e.detail ?? "";
  // The receiver's answer usually names its status already ("HTTP 503: ..."): say it once.
  const status = e.status_code && !detail.startsWith("HTTP") ? ` HTTP ${e.status_code}` : "";
  const attempt = e.attempt ? ` attempt ${e.attempt}` : "";
  return `${e.notification_status ?? ""} to ${e.destination_type ?? "destination"}:${attempt} ${e.outcome ?? ""}${status}${detail ? ` — ${detail}` : ""}`;
}

export function HistoryPanel() {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const page = useAsync(
    () =>
      api.get<Schemas["AlertHistoryPage"]>(
        `/api/v1/alerts/history?limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      ),
    [cursor],
  );
  return (
    <div>
      <div class="row">
        <button type="button" onClick={page.reload}>
          Refresh history
        </button>
      </div>
      <ErrorBanner error={page.error} />
      {page.loading && <Busy label="Loading history…" />}
      {page.data && !page.loading && (
        <>
          <ListTable
            caption={`${page.data.items.length} entries on page ${cursors.length + 1}, newest first`}
            columns={["Time", "Rule", "Type", "Labels", "What happened"]}
          >
            {page.data.items.map((e) => (
              <tr key={e.id}>
                <td>{e.time}</td>
                <td>{e.rule_name || e.rule_id}</td>
                <td>{e.type}</td>
                <td>
                  {Object.entries(e.labels ?? {})
                    .filter(([name]) => !["rule", "rule_id"].includes(name))
                    .map(([name, value]) => `${name}=${value}`)
                    .join(", ")}
                </td>
                <td>{describeEntry(e)}</td>
              </tr>
            ))}
          </ListTable>
          <CursorPager
            label="History pages"
            noun="entries"
            cursors={cursors}
            next={page.data.next_cursor}
            onChange={setCursors}
          />
        </>
      )}
    </div>
  );
}
