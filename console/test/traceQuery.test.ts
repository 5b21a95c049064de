import { describe, expect, it } from "vitest";
import { traceListQuery } from "../src/pages/traces/traceQuery";

const none = { q: "", status: "", source: "", tier: "", signature: "", from: "", to: "" };

describe("traceListQuery", () => {
  it("sends only the filters that are set, with the page size", () => {
    expect(traceListQuery(none, undefined)).toBe("/v1/traces?limit=50");
    expect(traceListQuery({ ...none, status: "failed", q: "pay 404", tier: "hot" }, "abc")).toBe(
      "/v1/traces?limit=50&q=pay+404&status=failed&tier=hot&cursor=abc",
    );
  });

  it("turns the local time inputs into ISO 8601 instants", () => {
    const url = new URL(traceListQuery({ ...none, from: "2026-12-06T10:00" }, undefined), "http://x");
    expect(url.searchParams.get("from")).toBe(new Date("2026-12-06T10:00").toISOString());
    expect(url.searchParams.has("to")).toBe(false);
  });
});
