// The trace list's filters and the GET /v1/traces query they make (kept apart from the page so
// vitest can check it without a DOM).
import { fromLocalInput } from "../../lib/timerange";

export interface Filters {
  q: string;
  status: string;
  source: string;
  tier: string;
  signature: string;
  from: string; // datetime-local value
  to: string;
}

export const KEYS = ["q", "status", "source", "tier", "signature", "from", "to"] as const;

export function traceListQuery(filters: Filters, cursor: string | undefined): string {
  const params = new URLSearchParams({ limit: "50" });
  for (const key of ["q", "status", "source", "tier", "signature"] as const) {
    if (filters[key]) params.set(key, filters[key]);
  }
  const from = fromLocalInput(filters.from);
  const to = fromLocalInput(filters.to);
  if (from) params.set("from", from);
  if (to) params.set("to", to);
  if (cursor) params.set("cursor", cursor);
  return `/v1/traces?${params}`;
}
