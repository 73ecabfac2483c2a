// The client form's pure pieces (portal/js/clientform.js, afastarget.js, mappingform.js): option
// texts, what is offered, what is picked, the form's own checks and where a server error lands.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  bookable, bookableTargets, clientIdProblems, mergeProblems, newConfig, payrollAdministrationText,
} from "../../portal/js/clientform.js";
import {
  environmentText, journalOptions, journalToPick, profitProblems, sbAdministrationOptions, unreadable,
} from "../../portal/js/afastarget.js";
import { locatePair, pairProblems, pairValue } from "../../portal/js/mappingform.js";

/** A table row as the form reads it: two inputs with a value. */
const row = (from, to) => [{ value: from }, { value: to }];

describe("where a client can book", () => {
  it("is never Loket, nor an SB Admin Center (its customer environments are)", () => {
    assert.equal(bookable({ kind: "loket", environment: "loket" }), false);
    assert.equal(bookable({ kind: "afas-sb", environment: "admin" }), false);
    assert.equal(bookable({ kind: "afas-sb", environment: "kantoor", details: { role: "admin-center" } }), false);
    assert.equal(bookable({ kind: "afas-sb", environment: "enyoi" }), true);
    assert.equal(bookable({ kind: "afas-profit", environment: "12345" }), true);
  });

  it("adds the Admin Center's customer environments that no client uses yet", () => {
    const connections = [
      { kind: "loket", environment: "loket" },
      { kind: "afas-profit", environment: "12345" },
      { kind: "afas-sb", environment: "admin", details: { role: "admin-center" } },
    ];
    const targets = bookableTargets(connections, [
      { environment: "klant-a", name: "Klant A", connected: true },
      { environment: "klant-b", name: "Klant B" },
    ]);
    assert.deepEqual(targets, [
      { kind: "afas-profit", environment: "12345" },
      { kind: "afas-sb", environment: "klant-b", active: true, viaAdminCenter: true, details: { environmentName: "Klant B" } },
    ]);
    assert.deepEqual(bookableTargets(connections, undefined), [{ kind: "afas-profit", environment: "12345" }]);
  });

  it("names each environment with its product, number, Admin Center and state", () => {
    assert.equal(environmentText({ kind: "afas-profit", environment: "12345", active: true, details: { environmentName: "O12345AA" } }), "AFAS Profit – O12345AA (12345)");
    assert.equal(environmentText({ kind: "afas-profit", environment: "12345", active: false }), "AFAS Profit – 12345 (12345) (inactief)");
    assert.equal(environmentText({ kind: "afas-sb", environment: "enyoi", active: true }), "AFAS SB – enyoi");
    assert.equal(environmentText({ kind: "afas-sb", environment: "klant-b", active: true, viaAdminCenter: true, details: { environmentName: "Klant B" } }), "AFAS SB – Klant B (klant-b), via Admin Center");
    assert.equal(environmentText({ kind: "afas-sb", environment: "klant-c", active: true, details: { environmentName: "klant-c", role: "scope" } }), "AFAS SB – klant-c, via Admin Center");
  });
});

describe("a new configuration", () => {
  it("is in the sync, booked automatically, on the first AFAS environment", () => {
    const c = newConfig([{ kind: "afas-sb", environment: "enyoi" }, { kind: "afas-profit", environment: "12345" }]);
    assert.equal(c.includeInSync, true);
    assert.equal(c.mode, "automatic");
    assert.deepEqual(c.target, { type: "afas-sb", environment: "enyoi" });
    assert.equal(c.mapping.costCenters, "pass");
    assert.equal(c.mapping.costCenterAxis, 1);
    assert.equal(c.mapping.costUnitAxis, 2);
    assert.equal(c.mapping.description, "Loonjournaal {periode} {administratie} run {volgnummer}");
  });

  it("targets AFAS Profit without an environment when there is no AFAS connection", () => {
    assert.deepEqual(newConfig([]).target, { type: "afas-profit" });
  });
});

describe("Klant and Loket.nl", () => {
  it("requires a klantnummer of letters, digits, - and _ (64 at most)", () => {
    assert.deepEqual(clientIdProblems("4711"), []);
    assert.deepEqual(clientIdProblems("klant_4711-a"), []);
    assert.deepEqual(clientIdProblems("a".repeat(64)), []);
    assert.deepEqual(clientIdProblems(""), [{ field: "clientId", detail: "is verplicht" }]);
    for (const bad of ["47 11", "-4711", "klant/1", "a".repeat(65), "één"]) {
      assert.deepEqual(clientIdProblems(bad), [{ field: "clientId", detail: "mag alleen letters, cijfers, - en _ bevatten (max. 64)" }], bad);
    }
  });

  it("shows a payroll administration with its client number and period type", () => {
    assert.equal(payrollAdministrationText({ name: "Korenschoof", clientNumber: "4711", periodType: "monthly" }), "Korenschoof – clientnr. 4711 (maand)");
    assert.equal(payrollAdministrationText({ name: "Korenschoof", clientNumber: null, periodType: "four-weekly" }), "Korenschoof (4 weken)");
    assert.equal(payrollAdministrationText({ name: "X", periodType: "daily" }), "X (daily)");
  });
});

describe("AFAS Profit and SB lists", () => {
  const journals = [
    { code: "81", description: "Memoriaal oud", memorial: true, blocked: true },
    { code: "80", description: "Memoriaal lonen", memorial: true },
    { code: "10", description: "Bank" },
  ];

  it("says memoriaal and geblokkeerd, and a blocked dagboek cannot be chosen", () => {
    assert.deepEqual(journalOptions(journals), [
      { value: "81", disabled: true, text: "81 – Memoriaal oud (memoriaal) (geblokkeerd)" },
      { value: "80", disabled: undefined, text: "80 – Memoriaal lonen (memoriaal)" },
      { value: "10", disabled: undefined, text: "10 – Bank" },
    ]);
  });

  it("starts a new configuration on the first memoriaal that is not blocked, keeps a chosen one", () => {
    assert.equal(journalToPick(journals, "", true), "80");
    assert.equal(journalToPick(journals, "10", true), "10");
    assert.equal(journalToPick(journals, "", false), "");
    assert.equal(journalToPick([{ code: "10", description: "Bank" }], "", true), "");
  });

  it("checks the administration number (1 to 99999) and the dagboek", () => {
    assert.deepEqual(profitProblems("1", "80"), []);
    assert.deepEqual(profitProblems("99999", "80"), []);
    assert.deepEqual(profitProblems("", ""), [
      { field: "target.administration", detail: "kies een administratie (of vul het nummer in)" },
      { field: "target.journal", detail: "kies een dagboek (of vul de code in)" },
    ]);
    for (const bad of ["0", "100000", "1a", "-1"]) {
      assert.deepEqual(profitProblems(bad, "80"), [{ field: "target.administration", detail: "vul een administratienummer in (1 t/m 99999)" }], bad);
    }
  });

  it("shows an SB administration by name with its id, or the id alone", () => {
    assert.deepEqual(sbAdministrationOptions([
      { id: "701b747b", name: "Demo B.V." },
      { id: "9f0e", name: "9f0e" },
    ]), [
      { value: "701b747b", text: "Demo B.V. (701b747b)" },
      { value: "9f0e", text: "9f0e" },
    ]);
  });

  it("says why a list is missing and what to type", () => {
    assert.equal(unreadable("De dagboeken", "de code", { status: 0 }),
      "De dagboeken konden niet worden opgehaald (AFAS is nu niet bereikbaar of bezig). Vul de code zelf in; bij het opslaan wordt het gecontroleerd.");
    assert.equal(unreadable("De administraties", "het nummer", { status: 503, detail: "Bezig." }),
      "De administraties konden niet worden opgehaald (AFAS is nu niet bereikbaar of bezig). Vul het nummer zelf in; bij het opslaan wordt het gecontroleerd.");
    assert.equal(unreadable("De administraties", "het id", { status: 409, detail: "De koppeling is verlopen." }),
      "De administraties konden niet worden opgehaald (De koppeling is verlopen). Vul het id zelf in; bij het opslaan wordt het gecontroleerd.");
  });
});

describe("the pair tables (Loket code → AFAS code)", () => {
  it("reads the filled rows, trimmed", () => {
    assert.deepEqual(pairValue([row(" 4000 ", "8000"), row("", ""), row("4100", " 8100 ")]), { 4000: "8000", 4100: "8100" });
  });

  it("finds each row's own problem: no Loket code, a code twice (on the second row), no AFAS code", () => {
    const rows = [row("4000", "8000"), row("", "8001"), row("4000", "8002"), row("4200", ""), row("", "")];
    const found = pairProblems(rows, "mapping.accounts");
    assert.deepEqual(found.map(({ field, detail, duplicate }) => ({ field, detail, duplicate })), [
      { field: "mapping.accounts.?", detail: "de Loket-code ontbreekt", duplicate: undefined },
      { field: "mapping.accounts.4000", detail: "staat al in de tabel", duplicate: true },
      { field: "mapping.accounts.4200", detail: "vul de AFAS-code in", duplicate: undefined },
    ]);
    assert.equal(found[0].node, rows[1][0]);
    assert.equal(found[1].node, rows[2][0], "the duplicate's error is on the duplicate, not the first 4000");
    assert.equal(found[2].node, rows[3][1]);
    assert.deepEqual(pairProblems([row("4000", "8000")], "mapping.accounts"), []);
  });

  it("puts a server error on the row it names", () => {
    const rows = [row("4000", "8000"), row("x y", "4000"), row("", "9000")];
    assert.equal(locatePair(rows, "mapping.accounts", "mapping.accounts.4000"), rows[0][1]);
    assert.equal(locatePair(rows, "mapping.accounts", "mapping.accounts.x y.[key]"), rows[1][0]);
    assert.equal(locatePair(rows, "mapping.accounts", "mapping.accounts.?"), rows[2][0]);
    assert.equal(locatePair(rows, "mapping.accounts", "mapping.accounts.5000"), null);
    assert.equal(locatePair(rows, "mapping.accounts", "mapping.costCenterMap.4000"), null);
    assert.equal(locatePair(rows, "mapping.accounts", "mapping.accountsX"), null);
  });
});

describe("one round of errors", () => {
  it("shows the form's own problems and the server's about the other fields", () => {
    const local = [{ field: "clientId", detail: "is verplicht" }];
    const server = [
      { field: "clientId", detail: "ongeldig" },
      { field: "target.journal", detail: "dagboek 81 is geblokkeerd in administratie 1" },
    ];
    assert.deepEqual(mergeProblems(local, server), [
      { field: "clientId", detail: "is verplicht" },
      { field: "target.journal", detail: "dagboek 81 is geblokkeerd in administratie 1" },
    ]);
  });

  it("keeps the server's error about a row whose duplicate the form found", () => {
    const local = [{ field: "mapping.accounts.4000", detail: "staat al in de tabel", duplicate: true }];
    const server = [{ field: "mapping.accounts.4000", detail: "heeft niet de juiste vorm" }];
    assert.deepEqual(mergeProblems(local, server), [...local, ...server]);
  });
});
