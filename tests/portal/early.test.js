// The answers early.js fetched before the modules loaded (portal/js/api.js): taken once, for the
// exact URL, and forgotten after the first screen (dropEarly), so they never go stale.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

globalThis.window = globalThis;
globalThis.location = new URL("http://portal.test/api/portal/#/runs");
globalThis.document = { getElementById: () => ({ textContent: JSON.stringify({ devSignIn: false, apiBase: "/api" }) }) };
const asked = [];
globalThis.fetch = async (url) => {
  asked.push(String(url));
  return new Response(JSON.stringify({ from: "fetch" }), { headers: { "content-type": "application/json" } });
};
const early = (body) => Promise.resolve(new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } }));

const { api, dropEarly } = await import("../../portal/js/api.js");

describe("early answers", () => {
  it("are taken once for the same URL; the next call asks the API", async () => {
    globalThis.loonbrugEarly = { "http://portal.test/api/runs?limit=10&page=1": early({ from: "early" }) };
    assert.deepEqual(await api.get("/runs", { type: "", limit: "10", page: "1", q: "" }), { from: "early" });
    assert.deepEqual(asked, []);
    assert.deepEqual(await api.get("/runs", { limit: "10", page: "1" }), { from: "fetch" });
    assert.deepEqual(asked, ["http://portal.test/api/runs?limit=10&page=1"]);
  });

  it("are not used for another URL, and are gone after dropEarly", async () => {
    asked.length = 0;
    globalThis.loonbrugEarly = { "http://portal.test/api/connections": early({ from: "early" }) };
    assert.deepEqual(await api.get("/runs", { limit: "20", page: "1" }), { from: "fetch" });
    dropEarly();
    assert.equal(globalThis.loonbrugEarly, undefined);
    assert.deepEqual(await api.get("/connections"), { from: "fetch" });
    assert.equal(asked.length, 2);
  });
});
