// ApiError (portal/js/api.js): what a refused or failed call tells the user, in Dutch.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ApiError } from "../../portal/js/api.js";

describe("ApiError: the problem details, or a Dutch text for the status", () => {
  it("takes detail, hint, field errors, type and incident from problem+json", () => {
    const error = new ApiError(422, {
      type: "https://loonbrug/problems/validation", detail: "Niet alle velden zijn goed ingevuld.",
      hint: "Controleer de velden.", errors: [{ field: "clientId", detail: "is verplicht" }], incident: "abc123",
    });
    assert.ok(error instanceof Error);
    assert.equal(error.status, 422);
    assert.equal(error.message, "Niet alle velden zijn goed ingevuld.");
    assert.equal(error.detail, error.message);
    assert.equal(error.hint, "Controleer de velden.");
    assert.deepEqual(error.errors, [{ field: "clientId", detail: "is verplicht" }]);
    assert.equal(error.type, "https://loonbrug/problems/validation");
    assert.equal(error.incident, "abc123");
  });

  it("explains an unreachable Loonbrug (status 0) and the known statuses without a body", () => {
    assert.match(new ApiError(0, null).detail, /niet bereikbaar/);
    assert.match(new ApiError(401, null).detail, /niet \(meer\) aangemeld/);
    assert.match(new ApiError(403, undefined).detail, /Loonbrug-beheerder/);
    assert.match(new ApiError(404, "not json").detail, /bestaat niet/);
    assert.match(new ApiError(429, {}).detail, /Te veel verzoeken/);
  });

  it("names the status of any other failure", () => {
    const error = new ApiError(502, null);
    assert.equal(error.detail, "Er ging iets mis aan de kant van Loonbrug (status 502). Probeer het later opnieuw.");
    assert.equal(error.hint, "");
    assert.deepEqual(error.errors, []);
  });

  it("ignores field errors that are not a list", () => {
    assert.deepEqual(new ApiError(422, { detail: "x", errors: "clientId" }).errors, []);
  });
});
