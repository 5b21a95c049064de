import { describe, expect, it } from "vitest";
import { cellText, toCsv } from "../src/lib/format";
import { pageOf } from "../src/lib/paging";

const rows = Array.from({ length: 120 }, (_, i) => i + 1);

describe("pageOf", () => {
  it("slices pages and reports 1-based bounds", () => {
    expect(pageOf(rows, 0, 50)).toMatchObject({ page: 0, pages: 3, first: 1, last: 50, total: 120 });
    const last = pageOf(rows, 2, 50);
    expect(last.rows).toEqual(rows.slice(100));
    expect(last).toMatchObject({ first: 101, last: 120 });
  });
  it("clamps out-of-range pages instead of showing nothing", () => {
    expect(pageOf(rows, 7, 50).page).toBe(2);
    expect(pageOf(rows, -3, 50).page).toBe(0);
  });
  it("shows one empty page for no rows", () => {
    expect(pageOf([], 0, 50)).toMatchObject({ rows: [], page: 0, pages: 1, first: 0, last: 0, total: 0 });
  });
  it("refuses a page size below one", () => {
    expect(() => pageOf(rows, 0, 0)).toThrow(RangeError);
  });
});

describe("CSV", () => {
  it("quotes commas, quotes and newlines and writes nested values as JSON", () => {
    const csv = toCsv(["a", "b"], [{ a: 'say "hi"', b: "x,y" }, { a: { k: 1 }, b: null }, { a: "line\nbreak", b: 3 }]);
    expect(csv).toBe('a,b\r\n"say ""hi""","x,y"\r\n"{""k"":1}",\r\n"line\nbreak",3\r\n');
    expect(cellText(undefined)).toBe("");
  });
});
