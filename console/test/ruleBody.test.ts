import { describe, expect, it } from "vitest";
import { ruleBody, type RuleDraft } from "../src/pages/alerts/ruleBody";

const draft: RuleDraft = {
  name: " api errors ",
  kind: "realtime",
  severity: "critical",
  destinations: ["d1"],
  groupBy: " service, ,host ",
  message: "",
  stream: "app",
  where: "level = 'error'",
  resolveAfterS: "",
  query: "SELECT 1",
  everyMinutes: "5",
  windowMinutes: "10",
  op: ">",
  threshold: "3",
  forS: "",
};

describe("ruleBody", () => {
  it("sends a realtime rule's stream and condition, not the scheduled fields", () => {
    expect(ruleBody(draft)).toEqual({
      name: "api errors",
      kind: "realtime",
      severity: "critical",
      destinations: ["d1"],
      group_by: ["service", "host"],
      stream: "app",
      where: "level = 'error'",
    });
    expect(ruleBody({ ...draft, resolveAfterS: "0" }).resolve_after_s).toBe(0);
  });

  it("turns minutes into seconds and the condition into its object", () => {
    const body = ruleBody({ ...draft, kind: "scheduled", forS: "60" });
    expect(body).toMatchObject({ query: "SELECT 1", interval_s: 300, window_s: 600, for_s: 60 });
    expect(body.condition).toEqual({ op: ">", threshold: 3 });
    expect(body.stream).toBeUndefined();
    expect(ruleBody({ ...draft, kind: "scheduled", op: "no_data" }).condition).toEqual({ op: "no_data" });
  });
});
