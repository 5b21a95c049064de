// The form of a new alert rule → the body of POST /api/v1/alerts/rules (docs/alerts.md).

export interface RuleDraft {
  name: string;
  kind: "realtime" | "scheduled";
  severity: string;
  destinations: string[];
  groupBy: string; // comma-separated column names
  message: string;
  stream: string;
  where: string;
  resolveAfterS: string;
  query: string;
  everyMinutes: string;
  windowMinutes: string;
  op: string;
  threshold: string;
  forS: string;
}

export function ruleBody(draft: RuleDraft): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: draft.name.trim(),
    kind: draft.kind,
    severity: draft.severity,
    destinations: draft.destinations,
    group_by: draft.groupBy
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean),
  };
  if (draft.message.trim()) body.message = draft.message;
  if (draft.kind === "realtime") {
    body.stream = draft.stream.trim();
    body.where = draft.where;
    if (draft.resolveAfterS !== "") body.resolve_after_s = Number(draft.resolveAfterS);
    return body;
  }
  body.query = draft.query;
  body.interval_s = Math.round(Number(draft.everyMinutes) * 60);
  body.window_s = Math.round(Number(draft.windowMinutes) * 60);
  body.condition = draft.op === "no_data" ? { op: "no_data" } : { op: draft.op, threshold: Number(draft.threshold) };
  if (draft.forS !== "") body.for_s = Number(draft.forS);
  return body;
}
