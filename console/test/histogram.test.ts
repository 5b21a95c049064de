import { describe, expect, it } from "vitest";
import { histogramSql } from "../src/pages/query/histogramSql";

describe("histogramSql", () => {
  it("wraps the query and buckets its _timestamp", () => {
    expect(histogramSql("SELECT * FROM app LIMIT 10;", 60_000_000)).toBe(
      "SELECT _timestamp // 60000000 AS bucket, count(*) AS n FROM (SELECT * FROM app LIMIT 10) AS q GROUP BY 1 ORDER BY 1",
    );
  });
});
