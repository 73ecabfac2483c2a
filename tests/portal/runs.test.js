// The Runs screens' pure helpers (portal/js/runs.js): the range text, the page numbers, the
// loonrun code, the Loket environment label and which status a run's badge shows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { loketLabel, loonrun, pageNumbers, rangeText, statusKind } from "../../portal/js/runs.js";

describe("rangeText: which runs a page shows, as the manual's overview says", () => {
  it("counts from the page's first row", () => {
    assert.equal(rangeText(1, 10, 10, 57, 57), "1 tot 10 van 57 resultaten");
    assert.equal(rangeText(6, 10, 7, 57, 57), "51 tot 57 van 57 resultaten");
  });

  it("says what a filter left out", () => {
    assert.equal(rangeText(1, 10, 10, 57, 60), "1 tot 10 van 57 resultaten (gefilterd uit 60 resultaten)");
    assert.equal(rangeText(1, 10, 0, 0, 60), "0 resultaten (gefilterd uit 60 resultaten)");
  });

  it("says 0 resultaten when there is nothing at all", () => {
    assert.equal(rangeText(1, 10, 0, 0, 0), "0 resultaten");
    assert.equal(rangeText(1, 10, 0, 0, undefined), "0 resultaten");
  });
});

describe("pageNumbers: the first, the last and the neighbours of the current page", () => {
  it("lists every page when there are few", () => {
    assert.deepEqual(pageNumbers(1, 1), [1]);
    assert.deepEqual(pageNumbers(2, 3), [1, 2, 3]);
  });

  it("puts … where pages are left out", () => {
    assert.deepEqual(pageNumbers(5, 12), [1, "…", 4, 5, 6, "…", 12]);
    assert.deepEqual(pageNumbers(1, 12), [1, 2, "…", 12]);
    assert.deepEqual(pageNumbers(12, 12), [1, "…", 11, 12]);
  });

  it("leaves no … between neighbours", () => {
    assert.deepEqual(pageNumbers(3, 5), [1, 2, 3, 4, 5]);
  });

  it("shows 100 pages of 10 of the 1,000-run figure in seven buttons at most", () => {
    for (let current = 1; current <= 100; current++) {
      const shown = pageNumbers(current, 100);
      assert.ok(shown.length <= 7, `page ${current}: ${shown}`);
      assert.ok(shown.includes(current) && shown[0] === 1 && shown.at(-1) === 100);
    }
  });
});

describe("loonrun: the payroll run as Loket lists it", () => {
  it("joins year and period number", () => {
    assert.equal(loonrun("2020-1"), "20201");
    assert.equal(loonrun("2024-13"), "202413");
  });

  it("keeps what it cannot split, and a dash for nothing", () => {
    assert.equal(loonrun("2020"), "2020");
    assert.equal(loonrun(""), "—");
    assert.equal(loonrun(null), "—");
  });
});

describe("loketLabel: the Loket.nl environment of the office's connection", () => {
  it("names the known environments in Dutch", () => {
    assert.equal(loketLabel([{ kind: "loket", details: { loketEnvironment: "test" } }]), "Testomgeving Loket");
    assert.equal(loketLabel([{ kind: "loket", details: { loketEnvironment: "acceptatie" } }]), "Acceptatieomgeving Loket");
    assert.equal(loketLabel([{ kind: "afas-profit" }, { kind: "loket", details: { loketEnvironment: "productie" } }]), "Loket.nl");
  });

  it("shows an unknown environment as it is, and Loket.nl without one", () => {
    assert.equal(loketLabel([{ kind: "loket", details: { loketEnvironment: "demo" } }]), "Loket.nl demo");
    assert.equal(loketLabel([{ kind: "loket" }]), "Loket.nl");
  });

  it("says so when Loket.nl is not connected", () => {
    assert.equal(loketLabel([{ kind: "afas-sb" }]), "Niet gekoppeld");
    assert.equal(loketLabel([]), "Niet gekoppeld");
    assert.equal(loketLabel(null), "Niet gekoppeld");
  });
});

describe("statusKind: the badge of a run", () => {
  it("shows what happened to its loonruns once there is an outcome", () => {
    assert.equal(statusKind({ status: "succeeded", outcome: "failed" }), "failed");
    assert.equal(statusKind({ status: "succeeded", outcome: "imported" }), "imported");
    assert.equal(statusKind({ status: "succeeded", outcome: "awaiting_approval" }), "awaiting_approval");
  });

  it("shows the job's status while there is none (running, or nothing found)", () => {
    assert.equal(statusKind({ status: "running", outcome: null }), "running");
    assert.equal(statusKind({ status: "succeeded" }), "succeeded");
  });
});
