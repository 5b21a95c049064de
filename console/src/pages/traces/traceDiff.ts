/** Words for the items of `GET /v1/traces/diff`: each dimension's item has a `key` (what it is)
 * and a `value` (what it showed); see docs/api.md "Diffs". */

export const DIMENSIONS = ["overview", "steps", "network", "console", "dom", "clone"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export interface DiffItem {
  key?: unknown[];
  value?: unknown;
  step?: number | null;
  title?: string;
  url?: string;
  message?: string;
}

export interface Divergence {
  kind: string;
  a?: DiffItem | null;
  b?: DiffItem | null;
}

function occurrence(key: unknown[], at: number): string {
  const n = Number(key[at] ?? 1);
  return n > 1 ? ` (#${n})` : "";
}

/** What an item is, e.g. "GET api/3 (#2)", "error: boom", "snapshot at step 4". */
export function describeItem(dimension: Dimension, item: DiffItem): string {
  const key = item.key ?? [];
  switch (dimension) {
    case "steps":
      return item.title ?? String(key[1] ?? "");
    case "network":
      return `${String(key[0] ?? "")} /${String(key[1] ?? "")}${occurrence(key, 2)}`;
    case "console":
      return `${String(key[0] ?? "")}: ${String(key[1] ?? "")}${occurrence(key, 2)}`;
    default:
      return `${dimension === "dom" ? "DOM snapshot" : "clone state"} at step ${String(key[0] ?? "?")}${occurrence(key, 1)}`;
  }
}

/** What an item showed, e.g. "failed: expected 200", "500", "content 3fa1…". */
export function describeOutcome(dimension: Dimension, item: DiffItem | null | undefined): string {
  if (!item) return "absent";
  const value = item.value;
  if (dimension === "steps") {
    const v = (value ?? {}) as { ok?: boolean | null; message?: string | null };
    if (v.ok === false) return v.message ? `failed: ${v.message}` : "failed";
    return v.ok === true ? "passed" : "ran";
  }
  if (dimension === "network") {
    const v = (value ?? {}) as { status?: number | null };
    return v.status === null || v.status === undefined ? "no status" : String(v.status);
  }
  if (dimension === "console") return "logged";
  return typeof value === "string" ? `content ${value.slice(0, 8)}…` : "—";
}

/** The first place the runs stop agreeing, in one sentence. */
export function describeDivergence(dimension: Dimension, first: Divergence | null | undefined): string {
  if (!first) return "No difference: the two runs agree on every item.";
  const shown: Dimension = dimension === "overview" ? "steps" : dimension;
  const a = first.a ? describeItem(shown, first.a) : null;
  const b = first.b ? describeItem(shown, first.b) : null;
  const where = (first.a?.step ?? first.b?.step) != null ? ` at step ${String(first.a?.step ?? first.b?.step)}` : "";
  if (first.kind === "changed") {
    return `First difference${where}: ${a ?? b} — A ${describeOutcome(shown, first.a)}, B ${describeOutcome(shown, first.b)}.`;
  }
  if (first.kind === "insert") return `First difference${where}: only B has ${b}.`;
  if (first.kind === "delete") return `First difference${where}: only A has ${a}.`;
  return `First difference${where}: A has ${a}, B has ${b}.`;
}
