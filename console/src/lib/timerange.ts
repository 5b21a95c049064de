// Time ranges as a user writes them ("now-15m" .. "now", or absolute instants) and as the
// API wants them: microseconds since the Unix epoch, start inclusive, end exclusive.

export interface TimeRangeSpec {
  from: string; // "now-15m", "now-7d", or an ISO 8601 instant
  to: string; // "now" or an ISO 8601 instant
}

export interface MicroRange {
  start: number;
  end: number;
}

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const RELATIVE = /^now(?:-(\d+)([smhdw]))?$/;

export const PRESETS: { label: string; from: string }[] = [
  { label: "Last 5 minutes", from: "now-5m" },
  { label: "Last 15 minutes", from: "now-15m" },
  { label: "Last 1 hour", from: "now-1h" },
  { label: "Last 6 hours", from: "now-6h" },
  { label: "Last 24 hours", from: "now-24h" },
  { label: "Last 7 days", from: "now-7d" },
  { label: "Last 30 days", from: "now-30d" },
];

export function isRelative(expression: string): boolean {
  return RELATIVE.test(expression.trim());
}

/** The instant an expression names, in ms since the epoch, or null if it cannot be read. */
export function resolveMs(expression: string, nowMs: number): number | null {
  const text = expression.trim();
  const match = RELATIVE.exec(text);
  if (match) {
    if (!match[1]) return nowMs;
    return nowMs - Number(match[1]) * UNIT_MS[match[2]];
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return null;
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? null : parsed;
}

/** The µs range of a spec; an error message when it is unreadable or empty. */
export function toMicros(spec: TimeRangeSpec, nowMs: number): MicroRange | string {
  const start = resolveMs(spec.from, nowMs);
  const end = resolveMs(spec.to, nowMs);
  if (start === null) return `cannot read the start "${spec.from}"`;
  if (end === null) return `cannot read the end "${spec.to}"`;
  // "now" as an end includes the current millisecond: the API's end is exclusive.
  const endMicros = end * 1000 + (spec.to.trim() === "now" ? 1000 : 0);
  const startMicros = start * 1000;
  if (startMicros >= endMicros) return "the start must be before the end";
  return { start: startMicros, end: endMicros };
}

/** A bucket width (µs) giving at most `maxBuckets` buckets over the range, on a round step. */
export function bucketMicros(range: MicroRange, maxBuckets = 60): number {
  const steps = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400, 604800].map((s) => s * 1e6);
  const span = range.end - range.start;
  return steps.find((step) => span / step <= maxBuckets) ?? Math.ceil(span / maxBuckets);
}

export function describeRange(spec: TimeRangeSpec): string {
  const preset = PRESETS.find((p) => p.from === spec.from && spec.to === "now");
  if (preset) return preset.label;
  return `${spec.from} to ${spec.to}`;
}

/** "2026-12-06T10:22" as a datetime-local input wants it, in the viewer's local time. */
export function toLocalInput(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local value (local time) as an ISO 8601 instant, or null. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
