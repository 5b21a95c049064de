import { describe, expect, it } from "vitest";
import { describeDivergence, describeItem, describeOutcome } from "../src/pages/traces/traceDiff";

describe("trace diff wording", () => {
  it("names network items by method and path, numbering repeats", () => {
    expect(describeItem("network", { key: ["GET", "api/3", 1] })).toBe("GET /api/3");
    expect(describeItem("network", { key: ["GET", "api/3", 2] })).toBe("GET /api/3 (#2)");
    expect(describeOutcome("network", { value: { status: 500, ok: false } })).toBe("500");
  });

  it("says how a step ended", () => {
    expect(describeOutcome("steps", { value: { ok: false, message: "expected 200" } })).toBe("failed: expected 200");
    expect(describeOutcome("steps", { value: { ok: true, message: null } })).toBe("passed");
    expect(describeOutcome("steps", null)).toBe("absent");
  });

  it("names snapshots by their step", () => {
    expect(describeItem("dom", { key: [4, 1] })).toBe("DOM snapshot at step 4");
    expect(describeItem("clone", { key: [4, 2] })).toBe("clone state at step 4 (#2)");
    expect(describeOutcome("dom", { value: "3fa1b2c3d4e5f6a7" })).toBe("content 3fa1b2c3…");
  });

  it("puts the first divergence in one sentence", () => {
    expect(describeDivergence("steps", null)).toMatch(/No difference/);
    const changed = {
      kind: "changed",
      a: { key: ["click", "step 3"], title: "step 3", step: 3, value: { ok: true } },
      b: { key: ["click", "step 3"], title: "step 3", step: 3, value: { ok: false, message: "got 500" } },
    };
    expect(describeDivergence("steps", changed)).toBe("First difference at step 3: step 3 — A passed, B failed: got 500.");
    expect(describeDivergence("overview", { kind: "insert", a: null, b: { title: "step 4", step: 4 } })).toBe(
      "First difference at step 4: only B has step 4.",
    );
    expect(describeDivergence("network", { kind: "delete", a: { key: ["POST", "pay", 1], step: 2 }, b: null })).toBe(
      "First difference at step 2: only A has POST /pay.",
    );
  });
});
