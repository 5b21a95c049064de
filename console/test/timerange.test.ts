import { describe, expect, it } from "vitest";
import { bucketMicros, describeRange, fromLocalInput, resolveMs, toMicros } from "../src/lib/timerange";

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0); // 2026-12-06T12:00:00Z

describe("resolveMs", () => {
  it("reads now and now minus each unit", () => {
    expect(resolveMs("now", NOW)).toBe(NOW);
    expect(resolveMs("now-30s", NOW)).toBe(NOW - 30_000);
    expect(resolveMs("now-15m", NOW)).toBe(NOW - 900_000);
    expect(resolveMs("now-6h", NOW)).toBe(NOW - 21_600_000);
    expect(resolveMs("now-7d", NOW)).toBe(NOW - 604_800_000);
    expect(resolveMs("now-2w", NOW)).toBe(NOW - 1_209_600_000);
  });
  it("reads ISO 8601 instants with offsets", () => {
    expect(resolveMs("2026-12-06T10:00:00Z", NOW)).toBe(Date.UTC(2026, 11, 6, 10));
    expect(resolveMs("2026-12-06T12:00:00+02:00", NOW)).toBe(Date.UTC(2026, 11, 6, 10));
  });
  it("refuses what it cannot read rather than guessing", () => {
    expect(resolveMs("yesterday", NOW)).toBeNull();
    expect(resolveMs("now-15", NOW)).toBeNull();
    expect(resolveMs("now+5m", NOW)).toBeNull();
    expect(resolveMs("12345", NOW)).toBeNull();
    expect(resolveMs("2026-13-45T99:00:00Z", NOW)).toBeNull();
  });
});

describe("toMicros", () => {
  it("turns a relative range into microseconds with an exclusive end past now", () => {
    expect(toMicros({ from: "now-1h", to: "now" }, NOW)).toEqual({ start: (NOW - 3_600_000) * 1000, end: NOW * 1000 + 1000 });
  });
  it("keeps absolute ends as written", () => {
    expect(toMicros({ from: "2026-12-06T10:00:00Z", to: "2026-12-06T11:00:00Z" }, NOW)).toEqual({
      start: Date.UTC(2026, 11, 6, 10) * 1000,
      end: Date.UTC(2026, 11, 6, 11) * 1000,
    });
  });
  it("says why a range is unusable", () => {
    expect(toMicros({ from: "2026-12-06T11:00:00Z", to: "2026-12-06T10:00:00Z" }, NOW)).toBe("the start must be before the end");
    expect(toMicros({ from: "soon", to: "now" }, NOW)).toBe('cannot read the start "soon"');
    expect(toMicros({ from: "now-1h", to: "later" }, NOW)).toBe('cannot read the end "later"');
  });
});

describe("bucketMicros", () => {
  it("picks a round step giving at most 60 buckets", () => {
    const hour = { start: 0, end: 3_600_000_000 };
    expect(bucketMicros(hour)).toBe(60_000_000); // 1 minute
    const day = { start: 0, end: 86_400_000_000 };
    expect(bucketMicros(day)).toBe(1_800_000_000); // 30 minutes: 48 buckets
    expect(day.end / bucketMicros(day)).toBeLessThanOrEqual(60);
    expect(bucketMicros({ start: 0, end: 10_000_000 })).toBe(1_000_000);
  });
  it("falls back to an even split beyond the largest step", () => {
    const year = { start: 0, end: 365 * 86_400_000_000 };
    expect(year.end / bucketMicros(year)).toBeLessThanOrEqual(60);
  });
});

describe("labels and inputs", () => {
  it("names presets and spells out custom ranges", () => {
    expect(describeRange({ from: "now-15m", to: "now" })).toBe("Last 15 minutes");
    expect(describeRange({ from: "2026-12-06T10:00:00Z", to: "now" })).toBe("2026-12-06T10:00:00Z to now");
  });
  it("reads datetime-local values and refuses empty ones", () => {
    expect(fromLocalInput("")).toBeNull();
    expect(fromLocalInput("not a date")).toBeNull();
    expect(fromLocalInput("2026-12-06T10:00")).toMatch(/^2026-12-06T\d\d:00:00\.000Z$/);
  });
});
