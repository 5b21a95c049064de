import { describe, expect, it } from "vitest";
import { afterSignIn } from "../src/lib/router";
import { shareRoute } from "../src/pages/share/shareRoute";

describe("shareRoute", () => {
  it("reads the short id of the viewer and of its embed", () => {
    expect(shareRoute("/r/xY9zQ2mNp")).toEqual({ shortId: "xY9zQ2mNp", embed: false });
    expect(shareRoute("/r/xY9zQ2mNp/")).toEqual({ shortId: "xY9zQ2mNp", embed: false });
    expect(shareRoute("/r/xY9zQ2mNp/embed")).toEqual({ shortId: "xY9zQ2mNp", embed: true });
  });

  it("decodes the id, keeping a malformed escape as it came (the API answers it 404)", () => {
    expect(shareRoute("/r/a%20b")).toEqual({ shortId: "a b", embed: false });
    expect(shareRoute("/r/%E0%A4%A")).toEqual({ shortId: "%E0%A4%A", embed: false });
  });

  it("is no share route anywhere else", () => {
    for (const path of ["/r", "/r/", "/r/abc/other", "/r/abc/embed/x", "/traces", "/rr/abc"]) {
      expect(shareRoute(path)).toBeNull();
    }
  });
});

describe("afterSignIn", () => {
  it("goes back to a same-origin path, else to Query", () => {
    expect(afterSignIn("/r/abc")).toBe("/r/abc");
    expect(afterSignIn(null)).toBe("/query");
    expect(afterSignIn("")).toBe("/query");
    expect(afterSignIn("//evil.example/x")).toBe("/query");
    expect(afterSignIn("https://evil.example/")).toBe("/query");
    expect(afterSignIn("/login?next=/login")).toBe("/query");
  });
});
