// @ts-check
// Configuratie › Client configuraties › toevoegen / bewerken: the client form. It is built from
// parts, each with its controls, its value, the problems it can see itself and where a server
// error about its fields goes: clientPart, loketPart and syncPart (here), targetPart
// (afastarget.js: the AFAS environment, Profit administration + dagboek or the SB administration,
// picked from lists read from AFAS with a typed fallback) and mappingPart (mappingform.js);
// submitClient checks everything in one round.
import { ApiError, api, request } from "./api.js";
import {
  add, busy, clearErrors, field, flash, h, notice, pageHeader, problemNotice, radioValue, registerLabels,
  showErrors, yesNoField,
} from "./ui.js";
import { loketLabel } from "./runs.js";
import { targetPart } from "./afastarget.js";
import { mappingPart } from "./mappingform.js";

export const CRUMBS = [["Configuratie"], ["Client configuraties", "#/clients"]];
/** @typedef {import("./ui.js").FieldError} FieldError */

/** @type {Record<string, string>} */
const PERIOD_TYPES = { monthly: "maand", "four-weekly": "4 weken", weekly: "week", unknown: "onbekend" };

registerLabels({
  clientId: "Clientnummer", name: "Naam", loketPayrollAdministrationId: "Loket.nl administratie",
  "target.environment": "AFAS omgeving", "target.administration": "Administratie Profit",
  "target.administrationTyped": "Administratienummer Profit", "target.journal": "Dagboek Profit",
  "target.journalTyped": "Dagboekcode Profit", "target.administrationId": "AFAS SB administratie",
  "target.administrationIdTyped": "Id van de administratie (AFAS SB)",
  includeInSync: "Meenemen in de synchronisatie", "mapping.fallbackAccount": "Terugvalrekening",
  "mapping.description": "Omschrijving", "mapping.costCenters": "Kostenplaatsen",
  "mapping.costCenterAxis": "As kostenplaats", "mapping.costUnitAxis": "As kostendrager",
  "mapping.periodRule": "Boekperiode", mode: "Verwerking", mapping: "Transponering",
});

/**
 * AFAS connections a client can book into (an SB Admin Center is not one: its customer
 * environments are).
 * @param {import("./afastarget.js").Connection} c
 * @returns {boolean}
 */
export function bookable(c) {
  if (c.kind === "loket") return false;
  return !(c.kind === "afas-sb" && (c.details?.role === "admin-center" || c.environment === "admin"));
}

/**
 * Client configuratie toevoegen (#/clients/nieuw) or bekijken / bewerken (#/clients/{id}).
 * @param {import("./main.js").ViewContext} ctx
 */
export async function form(ctx) {
  const { view, params } = ctx;
  const isNew = params[0] === "nieuw";
  const readOnly = !ctx.session?.isAdmin;
  const title = isNew ? "Client configuratie toevoegen" : `Client configuratie ${params[0]}`;
  add(view, ...pageHeader(title, [...CRUMBS, [isNew ? "Client configuratie toevoegen" : params[0]]]));
  if (isNew && readOnly) {
    add(view, notice("warning", h("p", null, "Alleen een beheerder kan client configuraties toevoegen.")));
    return;
  }
  const data = await loadFormData(isNew, params[0]);
  if (!ctx.alive()) return;
  const { existing, afas } = data;
  const c = existing || newConfig(afas);
  add(view, ...formNotices(data, readOnly));
  const parts = formParts(ctx, c, data, { isNew, readOnly });
  const summary = h("div");
  const save = h("button", { type: "submit" }, "Opslaan");
  const formNode = formLayout(parts, summary, readOnly ? null : save);
  parts.target.show();
  if (readOnly) disableAll(formNode);
  formNode.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, () => submitClient(formNode, summary, parts, existing));
  });
  add(view, formNode);
}

/**
 * The form's parts; a Loket administration's client number fills an empty new clientnummer.
 * @param {import("./afastarget.js").Alive} ctx @param {any} c the configuration (stored or new)
 * @param {ClientFormData} data @param {{isNew: boolean, readOnly: boolean}} options
 */
function formParts(ctx, c, data, { isNew, readOnly }) {
  const parts = {
    client: clientPart(c, isNew),
    loket: loketPart(c, data),
    target: targetPart(ctx, c, data.afas, { readOnly, isNew }),
    sync: syncPart(c, readOnly),
    mapping: mappingPart(c.mapping, readOnly),
  };
  parts.loket.onClientNumber((number) => { if (isNew && !parts.client.clientId.value) parts.client.clientId.value = number; });
  return parts;
}
/** @typedef {ReturnType<typeof formParts>} Parts */

/**
 * The form: Client, Export (Loket.nl), Import (AFAS, with the sync choices), Transponering, and
 * Opslaan / Annuleren unless the user may only read (save: null).
 * @param {Parts} parts @param {HTMLElement} summary @param {HTMLButtonElement | null} save
 * @returns {HTMLFormElement}
 */
function formLayout(parts, summary, save) {
  return h("form", { novalidate: true },
    summary,
    parts.client.node,
    parts.loket.node,
    h("fieldset", null, h("legend", null, "Import configuratie (AFAS)"), parts.target.node, parts.sync.node),
    parts.mapping.node,
    save ? h("div", { class: "actions" }, save, h("a", { class: "button secondary", href: "#/clients" }, "Annuleren")) : null);
}

/** A reader's form: every control disabled. @param {HTMLFormElement} formNode */
function disableAll(formNode) {
  /** @type {NodeListOf<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>} */ (formNode.querySelectorAll("input,select,textarea")).forEach((n) => { n.disabled = true; });
}

/** @typedef {Awaited<ReturnType<typeof loadFormData>>} ClientFormData */

/**
 * What the form needs: connections, Loket's payroll administrations, the client, SB's list.
 * @param {boolean} isNew @param {string} clientId
 */
async function loadFormData(isNew, clientId) {
  const [connections, administrations, existing, sbListed] = await Promise.all([
    api.get("/connections").then((a) => a.connections),
    api.get("/loket/payroll-administrations").then((a) => ({ employers: a.employers })).catch((error) => ({ error })),
    isNew ? null : request("GET", `/clients/${encodeURIComponent(clientId)}`).then((r) => ({ ...r.data, etag: r.headers.get("etag") })),
    api.get("/afas-sb/environments").catch(() => ({ environments: [], notice: null })),
  ]);
  return { connections, administrations, existing, sbListed, afas: bookableTargets(connections, sbListed.environments) };
}

/**
 * Where a client can book: the bookable connections, then the customer environments of an SB
 * Admin Center that no client uses yet.
 * @param {import("./afastarget.js").Connection[]} connections
 * @param {Array<{environment: string, name: string, connected?: boolean}> | undefined} sbEnvironments
 * @returns {import("./afastarget.js").Connection[]}
 */
export function bookableTargets(connections, sbEnvironments) {
  const sbNew = (sbEnvironments || []).filter((e) => !e.connected)
    .map((e) => ({ kind: "afas-sb", environment: e.environment, active: true, viaAdminCenter: true, details: { environmentName: e.name } }));
  return [...connections.filter(bookable), ...sbNew];
}

/**
 * A new configuration: in the sync, booked automatically, the default mapping, the first AFAS
 * environment.
 * @param {import("./afastarget.js").Connection[]} afas
 */
export function newConfig(afas) {
  return {
    includeInSync: true, mode: "automatic",
    mapping: { accounts: {}, costCenters: "pass", costCenterAxis: 1, costUnitAxis: 2, costCenterMap: {}, costUnitMap: {}, description: "Loonjournaal {periode} {administratie} run {volgnummer}", periodRule: null },
    target: afas[0] ? { type: afas[0].kind, environment: afas[0].environment } : { type: "afas-profit" },
  };
}

/** @param {ClientFormData} data @param {boolean} readOnly */
function formNotices({ administrations, afas, sbListed }, readOnly) {
  return [
    readOnly ? notice("info", h("p", null, "U kunt deze configuratie bekijken; alleen een beheerder kan hem wijzigen.")) : null,
    "error" in administrations ? problemNotice(administrations.error) : null,
    afas.length ? null : notice("warning", h("p", null, "Er is nog geen AFAS-koppeling. "), h("a", { href: "#/koppelingen/afas" }, "Voeg eerst een AFAS koppeling toe")),
    sbListed.notice ? notice("warning", h("p", null, sbListed.notice)) : null,
  ];
}

// -- Client -----------------------------------------------------------------------------------------

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * The clientnummer's problems: required; letters, digits, - and _ (64 at most).
 * @param {string} id
 * @returns {FieldError[]}
 */
export function clientIdProblems(id) {
  if (!id) return [{ field: "clientId", detail: "is verplicht" }];
  return CLIENT_ID.test(id) ? [] : [{ field: "clientId", detail: "mag alleen letters, cijfers, - en _ bevatten (max. 64)" }];
}

/** @param {any} c @param {boolean} isNew */
function clientPart(c, isNew) {
  const clientId = h("input", { type: "text", autocomplete: "off", value: c.clientId || "", readonly: !isNew, maxlength: "64" });
  const name = h("input", { type: "text", value: c.name || "", maxlength: "100" });
  return {
    clientId, name,
    node: h("fieldset", null, h("legend", null, "Client"),
      h("div", { class: "grid-2" },
        field("Clientnummer", clientId, { field: "clientId", help: isNew ? "Letters, cijfers, - en _; bijvoorbeeld het clientnummer uit Loket.nl." : "Het clientnummer wijzigt niet." }),
        field("Naam (optioneel)", name, { field: "name" }))),
    problems: () => clientIdProblems(clientId.value.trim()),
  };
}

// -- Export configuratie (Loket.nl) ---------------------------------------------------------------

/**
 * A Loket payroll administration as the select shows it: name, client number, period type.
 * @param {{name: string, clientNumber?: string | null, periodType: string}} a
 * @returns {string}
 */
export function payrollAdministrationText(a) {
  return `${a.name}${a.clientNumber ? ` – clientnr. ${a.clientNumber}` : ""} (${PERIOD_TYPES[a.periodType] || a.periodType})`;
}

/**
 * Loket's payroll administrations grouped by employer, and the stored one when Loket no longer
 * lists it.
 * @param {any[]} employers @param {{loketPayrollAdministrationId?: string, loketAdministrationName?: string}} c
 * @returns {HTMLSelectElement}
 */
function payrollAdministrationSelect(employers, c) {
  const admin = h("select", null, h("option", { value: "" }, "Kies een loonadministratie…"));
  const known = new Set();
  for (const employer of employers) {
    add(admin, h("optgroup", { label: `${employer.name}${employer.employerNumber ? ` (werkgever ${employer.employerNumber})` : ""}` },
      employer.payrollAdministrations.map((/** @type {any} */ a) => {
        known.add(a.id);
        return h("option", { value: a.id, selected: a.id === c.loketPayrollAdministrationId, dataset: { clientNumber: a.clientNumber ?? "" } },
          payrollAdministrationText(a));
      })));
  }
  if (c.loketPayrollAdministrationId && !known.has(c.loketPayrollAdministrationId)) {
    add(admin, h("option", { value: c.loketPayrollAdministrationId, selected: true }, c.loketAdministrationName || c.loketPayrollAdministrationId));
  }
  return admin;
}

/** @param {any} c @param {ClientFormData} data */
function loketPart(c, { connections, administrations }) {
  const admin = payrollAdministrationSelect(("employers" in administrations && administrations.employers) || [], c);
  return {
    admin,
    node: h("fieldset", null, h("legend", null, "Export configuratie (Loket.nl)"),
      h("div", { class: "field" }, h("span", { class: "label", id: "f-loket-env" }, "Loket.nl omgeving"), h("p", { "aria-labelledby": "f-loket-env" }, loketLabel(connections))),
      field("Loket.nl administratie", admin, { field: "loketPayrollAdministrationId" })),
    /** @param {(clientNumber: string) => void} take */
    onClientNumber: (take) => admin.addEventListener("change", () => {
      const number = admin.selectedOptions[0]?.dataset.clientNumber;
      if (number) take(number);
    }),
    /** @returns {FieldError[]} */
    problems: () => (admin.value ? [] : [{ field: "loketPayrollAdministrationId", detail: "kies een loonadministratie" }]),
  };
}

// -- Synchronisatie en verwerking ----------------------------------------------------------------

/** @param {any} c @param {boolean} readOnly */
function syncPart(c, readOnly) {
  const mode = h("fieldset", { class: "field", dataset: { field: "mode" } },
    h("legend", null, "Verwerking"),
    h("div", { class: "radios" },
      [["automatic", "Automatisch boeken"], ["review", "Eerst goedkeuren"]].map(([v, t]) =>
        h("label", null, h("input", { type: "radio", name: "mode", value: v, checked: (c.mode || "automatic") === v, disabled: readOnly }), t))),
    h("p", { class: "help" }, "Automatisch boeken: de nachtelijke run boekt de journaalpost meteen in AFAS. Eerst goedkeuren: Loonbrug zet de journaalpost klaar onder Goedkeuren en boekt hem pas als een beheerder hem goedkeurt."));
  const node = [yesNoField("Wilt u deze client meenemen in de synchronisatie?", "includeInSync", c.includeInSync, { field: "includeInSync", disabled: readOnly }), mode];
  return {
    node,
    /** @param {HTMLFormElement} formNode */
    value: (formNode) => ({
      includeInSync: radioValue(formNode, "includeInSync") !== false,
      mode: /** @type {HTMLInputElement | null} */ (mode.querySelector("input[name=mode]:checked"))?.value || "automatic",
    }),
  };
}

// -- Opslaan -----------------------------------------------------------------------------------------

/**
 * The body of PUT /clients/{id}: every part's value; a stored rounding rule is kept.
 * @param {Parts} parts @param {HTMLFormElement} formNode @param {any} existing
 * @returns {Record<string, unknown>}
 */
function clientBody(parts, formNode, existing) {
  /** @type {Record<string, unknown>} */
  const body = {
    loketPayrollAdministrationId: parts.loket.admin.value,
    target: parts.target.value(),
    ...parts.sync.value(formNode),
    name: parts.client.name.value.trim(),
    mapping: parts.mapping.value(),
  };
  if (existing?.rounding) body.rounding = { account: existing.rounding.account, maxDifference: existing.rounding.maxDifference };
  return body;
}

/**
 * The form's own problems first, then the server's about the other fields (a duplicate row
 * does not take its field: the server's error about that row still shows).
 * @param {FieldError[]} local @param {FieldError[]} server
 * @returns {FieldError[]}
 */
export function mergeProblems(local, server) {
  const taken = new Set(local.filter((e) => !e.duplicate).map((e) => e.field));
  return [...local, ...server.filter((e) => !taken.has(e.field))];
}

/**
 * Save in one round: the problems the form sees itself and, when there are any, everything the
 * server knows too (schema, Loket, AFAS: PUT ?validateOnly=true stores nothing), each beside
 * its field; without local problems the save itself checks everything at once.
 * @param {HTMLFormElement} formNode @param {HTMLElement} summary @param {Parts} parts @param {any} existing
 */
async function submitClient(formNode, summary, parts, existing) {
  clearErrors(formNode);
  summary.replaceChildren();
  const id = parts.client.clientId.value.trim();
  const body = clientBody(parts, formNode, existing);
  const local = [...parts.client.problems(), ...parts.loket.problems(), ...parts.target.problems(), ...parts.mapping.problems()];
  /** @param {string} f */
  const locate = (f) => parts.mapping.locate(f) || parts.target.locate(f);
  try {
    if (local.length) {
      const server = await serverProblems(CLIENT_ID.test(id) ? id : "nieuw", body);
      throw new ApiError(422, { detail: "Niet alle velden zijn goed ingevuld. Zie de meldingen per veld.", errors: mergeProblems(local, server) });
    }
    /** @type {Record<string, string>} */
    const headers = existing?.etag ? { "If-Match": existing.etag } : {};
    const saved = await request("PUT", `/clients/${encodeURIComponent(id)}`, { body, headers });
    flash("ok", `Client configuratie ${id} is ${saved.status === 201 ? "toegevoegd" : "opgeslagen"}. De journaalposten van ${saved.data.loketAdministrationName || "deze administratie"} worden nu elke nacht overgezet${saved.data.includeInSync ? "" : " zodra u 'meenemen in de synchronisatie' aanzet"}.`);
    location.hash = "#/clients";
  } catch (error) {
    showProblems(formNode, summary, error, locate);
  }
}

/**
 * Each error beside its field, the rest in the summary; the focus on the first one.
 * @param {HTMLFormElement} formNode @param {HTMLElement} summary @param {import("./api.js").ApiError} error
 * @param {(field: string) => Element | null | undefined} locate
 */
function showProblems(formNode, summary, error, locate) {
  const unplaced = showErrors(formNode, error.errors, locate);
  summary.replaceChildren(problemNotice(error, unplaced));
  const first = /** @type {HTMLElement | null} */ (formNode.querySelector("[aria-invalid]") || summary.querySelector(".notice"));
  if (first) { if (!first.matches("input,select,textarea")) first.tabIndex = -1; first.focus(); }
}

/**
 * The server's field errors for a body, nothing stored; [] when it has none or cannot check now.
 * @param {string} id @param {unknown} body
 * @returns {Promise<FieldError[]>}
 */
async function serverProblems(id, body) {
  try {
    await request("PUT", `/clients/${encodeURIComponent(id)}`, { body, query: { validateOnly: "true" } });
    return [];
  } catch (error) {
    return error.status === 422 ? error.errors : [];
  }
}
