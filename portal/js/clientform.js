// @ts-check
// Configuratie › Klantconfiguraties › toevoegen / bewerken: the client form. It is built from
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

export const CRUMBS = [["Configuratie"], ["Klantconfiguraties", "#/klanten"]];
const PERIOD_TYPES = { monthly: "maand", "four-weekly": "4 weken", weekly: "week", unknown: "onbekend" };

registerLabels({
  clientId: "Klantnummer", name: "Naam", loketPayrollAdministrationId: "Loket.nl administratie",
  "target.environment": "AFAS omgeving", "target.administration": "Administratie Profit",
  "target.administrationTyped": "Administratienummer Profit", "target.journal": "Dagboek Profit",
  "target.journalTyped": "Dagboekcode Profit", "target.administrationId": "AFAS SB+ administratie",
  "target.administrationIdTyped": "Id van de administratie (AFAS SB+)",
  includeInSync: "Meenemen in de synchronisatie", "mapping.fallbackAccount": "Terugvalrekening",
  "mapping.description": "Omschrijving", "mapping.costCenters": "Kostenplaatsen",
  "mapping.costCenterAxis": "As kostenplaats", "mapping.costUnitAxis": "As kostendrager",
  "mapping.periodRule": "Boekperiode", mode: "Verwerking", mapping: "Transponering",
});

/** AFAS connections a client can book into (an SB Admin Center is not one: its customer
 * environments are). */
function bookable(c) {
  if (c.kind === "loket") return false;
  return !(c.kind === "afas-sb" && (c.details?.role === "admin-center" || c.environment === "admin"));
}

export async function form(ctx) {
  const { view, params, session } = ctx;
  const isNew = params[0] === "nieuw";
  const readOnly = !session.isAdmin;
  const title = isNew ? "Client configuratie toevoegen" : `Client configuratie ${params[0]}`;
  add(view, ...pageHeader(title, [...CRUMBS, [isNew ? "Client configuratie toevoegen" : params[0]]]));
  if (isNew && readOnly) {
    add(view, notice("warning", h("p", null, "Alleen een beheerder kan klantconfiguraties toevoegen.")));
    return;
  }
  const data = await loadFormData(isNew, params[0]);
  if (!ctx.alive()) return;
  const { existing, afas } = data;
  const c = existing || newConfig(afas);
  add(view, ...formNotices(data, readOnly));

  const parts = {
    client: clientPart(c, isNew),
    loket: loketPart(c, data),
    target: targetPart(ctx, c, afas, { readOnly, isNew }),
    sync: syncPart(c, readOnly),
    mapping: mappingPart(c.mapping, readOnly),
  };
  parts.loket.onClientNumber((number) => { if (isNew && !parts.client.clientId.value) parts.client.clientId.value = number; });

  const summary = h("div");
  const save = h("button", { type: "submit" }, "Opslaan");
  const formNode = h("form", { novalidate: true },
    summary,
    parts.client.node,
    parts.loket.node,
    h("fieldset", null, h("legend", null, "Import configuratie (AFAS)"), parts.target.node, parts.sync.node),
    parts.mapping.node,
    readOnly ? null : h("div", { class: "actions" }, save, h("a", { class: "button secondary", href: "#/klanten" }, "Annuleren")));
  parts.target.show();
  if (readOnly) /** @type {NodeListOf<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>} */ (formNode.querySelectorAll("input,select,textarea")).forEach((n) => { n.disabled = true; });
  formNode.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, () => submitClient(formNode, summary, parts, existing));
  });
  add(view, formNode);
}

/** What the form needs: connections, Loket's payroll administrations, the client, SB's list. */
async function loadFormData(isNew, clientId) {
  const [connections, administrations, existing, sbListed] = await Promise.all([
    api.get("/connections").then((a) => a.connections),
    api.get("/loket/payroll-administrations").then((a) => ({ employers: a.employers })).catch((error) => ({ error })),
    isNew ? null : request("GET", `/clients/${encodeURIComponent(clientId)}`).then((r) => ({ ...r.data, etag: r.headers.get("etag") })),
    api.get("/afas-sb/environments").catch(() => ({ environments: [], notice: null })),
  ]);
  // Customer environments of an SB Admin Center that no client uses yet: offered too.
  const sbNew = (sbListed.environments || []).filter((e) => !e.connected)
    .map((e) => ({ kind: "afas-sb", environment: e.environment, active: true, viaAdminCenter: true, details: { environmentName: e.name } }));
  return { connections, administrations, existing, sbListed, afas: [...connections.filter(bookable), ...sbNew] };
}

function newConfig(afas) {
  return {
    includeInSync: true, mode: "automatic",
    mapping: { accounts: {}, costCenters: "pass", costCenterAxis: 1, costUnitAxis: 2, costCenterMap: {}, costUnitMap: {}, description: "Loonjournaal {periode} {administratie} run {volgnummer}", periodRule: null },
    target: afas[0] ? { type: afas[0].kind, environment: afas[0].environment } : { type: "afas-profit" },
  };
}

function formNotices({ administrations, afas, sbListed }, readOnly) {
  return [
    readOnly ? notice("info", h("p", null, "U kunt deze configuratie bekijken; alleen een beheerder kan hem wijzigen.")) : null,
    administrations.error ? problemNotice(administrations.error) : null,
    afas.length ? null : notice("warning", h("p", null, "Er is nog geen AFAS-koppeling. "), h("a", { href: "#/koppelingen/afas" }, "Voeg eerst een AFAS koppeling toe")),
    sbListed.notice ? notice("warning", h("p", null, sbListed.notice)) : null,
  ];
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

function clientPart(c, isNew) {
  const clientId = h("input", { type: "text", autocomplete: "off", value: c.clientId || "", readonly: !isNew, maxlength: "64" });
  const name = h("input", { type: "text", value: c.name || "", maxlength: "100" });
  return {
    clientId, name,
    node: h("fieldset", null, h("legend", null, "Klant"),
      h("div", { class: "grid-2" },
        field("Klantnummer", clientId, { field: "clientId", help: isNew ? "Letters, cijfers, - en _; bijvoorbeeld het klantnummer uit Loket.nl." : "Het klantnummer wijzigt niet." }),
        field("Naam (optioneel)", name, { field: "name" }))),
    problems: () => {
      const id = clientId.value.trim();
      if (!id) return [{ field: "clientId", detail: "is verplicht" }];
      return CLIENT_ID.test(id) ? [] : [{ field: "clientId", detail: "mag alleen letters, cijfers, - en _ bevatten (max. 64)" }];
    },
  };
}

function loketPart(c, { connections, administrations }) {
  const admin = h("select", null, h("option", { value: "" }, "Kies een loonadministratie…"));
  const known = new Set();
  for (const employer of administrations.employers || []) {
    add(admin, h("optgroup", { label: `${employer.name}${employer.employerNumber ? ` (werkgever ${employer.employerNumber})` : ""}` },
      employer.payrollAdministrations.map((a) => {
        known.add(a.id);
        return h("option", { value: a.id, selected: a.id === c.loketPayrollAdministrationId, dataset: { clientNumber: a.clientNumber ?? "" } },
          `${a.name}${a.clientNumber ? ` – klantnr. ${a.clientNumber}` : ""} (${PERIOD_TYPES[a.periodType] || a.periodType})`);
      })));
  }
  if (c.loketPayrollAdministrationId && !known.has(c.loketPayrollAdministrationId)) {
    add(admin, h("option", { value: c.loketPayrollAdministrationId, selected: true }, c.loketAdministrationName || c.loketPayrollAdministrationId));
  }
  return {
    admin,
    node: h("fieldset", null, h("legend", null, "Export configuratie (Loket.nl)"),
      h("div", { class: "field" }, h("span", { class: "label", id: "f-loket-env" }, "Loket.nl omgeving"), h("p", { "aria-labelledby": "f-loket-env" }, loketLabel(connections))),
      field("Loket.nl administratie", admin, { field: "loketPayrollAdministrationId" })),
    onClientNumber: (take) => admin.addEventListener("change", () => {
      const number = admin.selectedOptions[0]?.dataset.clientNumber;
      if (number) take(number);
    }),
    problems: () => (admin.value ? [] : [{ field: "loketPayrollAdministrationId", detail: "kies een loonadministratie" }]),
  };
}

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
    value: (formNode) => ({
      includeInSync: radioValue(formNode, "includeInSync") !== false,
      mode: /** @type {HTMLInputElement | null} */ (mode.querySelector("input[name=mode]:checked"))?.value || "automatic",
    }),
  };
}

/**
 * Save in one round: the problems the form sees itself and, when there are any, everything the
 * server knows too (schema, Loket, AFAS: PUT ?validateOnly=true stores nothing), each beside
 * its field; without local problems the save itself checks everything at once.
 */
async function submitClient(formNode, summary, parts, existing) {
  clearErrors(formNode);
  summary.replaceChildren();
  const id = parts.client.clientId.value.trim();
  const body = {
    loketPayrollAdministrationId: parts.loket.admin.value,
    target: parts.target.value(),
    ...parts.sync.value(formNode),
    name: parts.client.name.value.trim(),
    mapping: parts.mapping.value(),
  };
  if (existing?.rounding) body.rounding = { account: existing.rounding.account, maxDifference: existing.rounding.maxDifference };
  const local = [...parts.client.problems(), ...parts.loket.problems(), ...parts.target.problems(), ...parts.mapping.problems()];
  const locate = (f) => parts.mapping.locate(f) || parts.target.locate(f);
  try {
    if (local.length) {
      const server = await serverProblems(CLIENT_ID.test(id) ? id : "nieuw", body);
      const taken = new Set(local.filter((e) => !e.duplicate).map((e) => e.field));
      throw new ApiError(422, { detail: "Niet alle velden zijn goed ingevuld. Zie de meldingen per veld.", errors: [...local, ...server.filter((e) => !taken.has(e.field))] });
    }
    /** @type {Record<string, string>} */
    const headers = existing?.etag ? { "If-Match": existing.etag } : {};
    const saved = await request("PUT", `/clients/${encodeURIComponent(id)}`, { body, headers });
    flash("ok", `Klantconfiguratie ${id} is ${saved.status === 201 ? "toegevoegd" : "opgeslagen"}. De journaalposten van ${saved.data.loketAdministrationName || "deze administratie"} worden nu elke nacht overgezet${saved.data.includeInSync ? "" : " zodra u 'meenemen in de synchronisatie' aanzet"}.`);
    location.hash = "#/klanten";
  } catch (error) {
    const unplaced = showErrors(formNode, error.errors, locate);
    summary.replaceChildren(problemNotice(error, unplaced));
    const first = formNode.querySelector("[aria-invalid]") || summary.querySelector(".notice");
    if (first) { if (!first.matches("input,select,textarea")) first.tabIndex = -1; first.focus(); }
  }
}

/** The server's field errors for a body, nothing stored; [] when it has none or cannot check now. */
async function serverProblems(id, body) {
  try {
    await request("PUT", `/clients/${encodeURIComponent(id)}`, { body, query: { validateOnly: "true" } });
    return [];
  } catch (error) {
    return error.status === 422 ? error.errors : [];
  }
}
