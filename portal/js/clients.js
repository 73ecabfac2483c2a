// @ts-check
// Configuratie › Klantconfiguraties: list, add/edit (with the mapping editor), and the preview of
// the AFAS entry a Loket journal run would become.
import { ApiError, api, request } from "./api.js";
import {
  add,
  badge, busy, clearErrors, date, dateTime, empty, field, flash, h, money, notice, pageHeader,
  period, problemNotice, radioValue, registerLabels, showErrors, table, yesNo, yesNoField,
} from "./ui.js";
import { loketLabel } from "./runs.js";

const CRUMBS = [["Configuratie"], ["Klantconfiguraties", "#/klanten"]];
const PERIOD_TYPES = { monthly: "maand", "four-weekly": "4 weken", weekly: "week", unknown: "onbekend" };
const COST_CENTERS = { pass: "Overnemen uit Loket", map: "Vertalen met een tabel", drop: "Weglaten" };
const PERIOD_RULES = {
  "": "Standaard (loonperiode; 4-weken en week: maand van de einddatum)",
  "payroll-period": "Loonperiode = boekperiode",
  "end-date-month": "Maand van de einddatum van de loonperiode",
  "start-date-month": "Maand van de begindatum van de loonperiode",
};

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
  loketJournalRunId: "Loket journaalrun-id",
});

function targetText(target, connections) {
  if (target.type === "afas-profit") {
    const c = connections?.find((x) => x.kind === "afas-profit" && x.environment === target.environment);
    const env = c?.details?.environmentName ? `${c.details.environmentName} (${target.environment})` : target.environment;
    return `AFAS Profit ${env} · administratie ${target.administration} · dagboek ${target.journal}`;
  }
  const c = connections?.find((x) => x.kind === "afas-sb" && x.environment === target.environment);
  const env = c?.details?.environmentName && c.details.environmentName !== target.environment ? `${c.details.environmentName} (${target.environment})` : target.environment;
  return `AFAS SB+ ${env} · administratie ${target.administrationId}`;
}

/** AFAS connections a client can book into (an SB Admin Center is not one: its customer
 * environments are). */
function bookable(c) {
  if (c.kind === "loket") return false;
  return !(c.kind === "afas-sb" && (c.details?.role === "admin-center" || c.environment === "admin"));
}

const TYPED = "__typed__";

// -- list --------------------------------------------------------------------------------------------

export async function list(ctx) {
  const { view, session } = ctx;
  add(view, ...pageHeader("Klantconfiguraties", [CRUMBS[0], ["Klantconfiguraties"]]));
  const [answer, connections] = await Promise.all([api.get("/clients"), api.get("/connections")]);
  if (!ctx.alive()) return;
  if (session.isAdmin) add(view, h("div", { class: "toolbar" }, h("a", { class: "button", href: "#/klanten/nieuw" }, "Client configuratie toevoegen")));
  if (!answer.clients.length) {
    const loket = connections.connections.some((c) => c.kind === "loket");
    const afas = connections.connections.some((c) => c.kind !== "loket");
    add(view, empty(
      h("p", null, h("strong", null, "Nog geen klantconfiguraties.")),
      h("p", null, "Een klantconfiguratie koppelt een Loket.nl loonadministratie aan een AFAS administratie. Daarna worden de journaalposten elke nacht automatisch overgezet."),
      !loket || !afas ? h("p", null, "Eerst nodig: ", !loket ? "een Loket.nl koppeling" : "", !loket && !afas ? " en " : "", !afas ? "een AFAS koppeling" : "", " — zie ", h("a", { href: "#/koppelingen" }, "Koppelingen"), ".") : null,
      session.isAdmin && loket && afas ? h("p", null, "Klik op 'Client configuratie toevoegen' om te beginnen.") : null));
    return;
  }
  add(view, table([
    { label: "Klantnr.", render: (c) => h("a", { href: `#/klanten/${encodeURIComponent(c.clientId)}` }, c.clientId) },
    { label: "Naam", render: (c) => c.name || "—" },
    { label: "Loket.nl administratie", render: (c) => `${c.loketAdministrationName || c.loketPayrollAdministrationId}${c.loketClientNumber ? ` (klantnr. ${c.loketClientNumber})` : ""}` },
    { label: "AFAS omgeving", render: (c) => targetText(c.target, connections.connections) },
    { label: "In synchronisatie", render: (c) => yesNo(c.includeInSync) },
    { label: "Verwerking", render: (c) => (c.mode === "review" ? h("a", { href: "#/approvals" }, "Eerst goedkeuren") : "Automatisch") },
    { label: "Gewijzigd", render: (c) => (c.updatedAt ? `${dateTime(c.updatedAt)}${c.updatedBy ? ` door ${c.updatedBy}` : ""}` : "—") },
    { label: "Acties", render: (c) => h("div", { class: "actions" },
      h("a", { href: `#/klanten/${encodeURIComponent(c.clientId)}`, "aria-label": `${session.isAdmin ? "Bewerken" : "Bekijken"}: klant ${c.clientId}` }, session.isAdmin ? "Bewerken" : "Bekijken"),
      h("a", { href: `#/voorbeeld?klant=${encodeURIComponent(c.clientId)}`, "aria-label": `Voorbeeld journaalpost voor klant ${c.clientId}` }, "Voorbeeld"),
      session.isAdmin ? deleteButton(ctx, c) : null) },
  ], answer.clients, { caption: "Klantconfiguraties" }));
}

function deleteButton(ctx, client) {
  const button = h("button", { type: "button", class: "link", "aria-label": `Verwijderen: klant ${client.clientId}`, onclick: () => {
    if (!confirm(`Klantconfiguratie ${client.clientId} verwijderen? De geschiedenis van de runs blijft bewaard.`)) return;
    busy(button, async () => {
      try {
        await api.del(`/clients/${encodeURIComponent(client.clientId)}`);
        flash("ok", `Klantconfiguratie ${client.clientId} is verwijderd.`);
        ctx.refresh();
      } catch (error) { ctx.view.prepend(problemNotice(error)); }
    });
  } }, "Verwijderen");
  return button;
}

// -- add / edit ----------------------------------------------------------------------------------------
// The form is built from parts, each with its controls, its value, the problems it can see
// itself and where a server error about its fields goes: clientPart, loketPart, targetPart (AFAS
// environment, Profit administration + dagboek or the SB administration, picked from lists read
// from AFAS with a typed fallback), syncPart and mappingPart; submitClient checks in one round.

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

// What AFAS lists, read once per address for a few minutes (AFAS's fair use: a form that is
// opened, switched between environments or administrations, never reads on a keystroke).
const LISTED = new Map();
const LISTED_FOR_MS = 5 * 60_000;
function listed(path) {
  const hit = LISTED.get(path);
  if (hit && Date.now() - hit.at < LISTED_FOR_MS) return hit.answer;
  const answer = api.get(path);
  LISTED.set(path, { at: Date.now(), answer });
  answer.catch(() => LISTED.delete(path));
  return answer;
}

/** Why a list is not there, and what to do: type the value (the save checks it). */
function unreadable(what, value, error) {
  const why = error.status === 0 || error.status === 503
    ? "AFAS is nu niet bereikbaar of bezig"
    : (error.detail || "").replace(/\.$/, "");
  return `${what} konden niet worden opgehaald (${why}). Vul ${value} zelf in; bij het opslaan wordt het gecontroleerd.`;
}

/**
 * A select of what AFAS lists, with "Anders: … zelf invullen" and a typed field as the fallback
 * (AFAS not reachable, or a value AFAS does not list). Server errors about `name` land on the
 * control in use.
 */
function pickOrType({ label, name, other, typedLabel, typedHelp, typed, readOnly }) {
  const select = h("select", null);
  const status = h("p", { class: "help", "aria-live": "polite" });
  const typedField = field(typedLabel, typed, { field: `${name}Typed`, help: typedHelp });
  const sync = () => { typedField.hidden = select.value !== TYPED; };
  select.addEventListener("change", sync);
  const otherOption = (selected) => h("option", { value: TYPED, selected }, other);
  const lock = () => { if (readOnly) { select.disabled = true; typed.disabled = true; } };
  return {
    select, typed,
    node: h("div", null, field(label, select, { field: name }), status, typedField),
    /** While AFAS is asked: the stored value stays the value (in the hidden typed field). */
    loading(text, current) {
      typed.value = current;
      select.replaceChildren(h("option", { value: TYPED }, text));
      status.replaceChildren();
      typedField.hidden = true;
      lock();
    },
    /**
     * options: [{value, text, disabled?}]; current: the stored or chosen value ("" = none).
     * @param {Array<{value: string, text: string, disabled?: boolean}>} options
     * @param {string} current
     * @param {{empty?: string, missing?: (value: string) => string}} [texts]
     */
    fill(options, current, { empty, missing } = {}) {
      const known = options.some((o) => o.value === current);
      select.replaceChildren();
      add(select,
        h("option", { value: "", selected: !current }, options.length ? "Kies…" : empty),
        options.map((o) => h("option", { value: o.value, selected: o.value === current, disabled: Boolean(o.disabled) && o.value !== current }, o.text)),
        otherOption(Boolean(current) && !known));
      if (current && !known) typed.value = current;
      status.replaceChildren(current && !known && missing ? missing(current) : "");
      sync();
      lock();
    },
    fail(text, current) {
      typed.value = current;
      select.replaceChildren(otherOption(true));
      status.replaceChildren(text);
      sync();
      lock();
    },
    value: () => (select.value === TYPED ? typed.value.trim() : select.value),
    typedInUse: () => select.value === TYPED,
    locate: (f) => (f === name ? (select.value === TYPED ? typed : select) : null),
  };
}

function targetPart(ctx, c, afas, { readOnly, isNew }) {
  const environment = h("select", null,
    afas.map((x) => h("option", { value: `${x.kind}|${x.environment}`, selected: c.target.type === x.kind && c.target.environment === x.environment },
      `${x.kind === "afas-profit" ? "AFAS Profit" : "AFAS SB+"} – ${x.details?.environmentName || x.environment}${x.kind === "afas-profit" || (x.details?.environmentName && x.details.environmentName !== x.environment) ? ` (${x.environment})` : ""}${x.viaAdminCenter || x.details?.role === "scope" ? ", via Admin Center" : ""}${x.active ? "" : " (inactief)"}`)));
  if (c.target.environment && !afas.some((x) => x.kind === c.target.type && x.environment === c.target.environment)) {
    add(environment, h("option", { value: `${c.target.type}|${c.target.environment}`, selected: true }, `${c.target.environment} (koppeling ontbreekt)`));
  }
  const profit = profitPicker(ctx, c.target, { readOnly, isNew });
  const sb = sbPicker(ctx, c.target, readOnly);
  const chosen = () => environment.value.split("|");
  const show = () => {
    const [kind, env] = chosen();
    profit.node.hidden = kind === "afas-sb";
    sb.node.hidden = kind !== "afas-sb";
    if (!env) return;
    if (kind === "afas-sb") sb.load(env);
    else profit.load(env);
  };
  environment.addEventListener("change", show);
  return {
    node: [field("AFAS omgeving", environment, { field: "target.environment" }), profit.node, sb.node],
    show,
    value: () => {
      const [kind, env] = chosen();
      return kind === "afas-sb" ? { type: "afas-sb", environment: env, administrationId: sb.value() } : { type: "afas-profit", environment: env || "", ...profit.value() };
    },
    problems: () => {
      const [kind, env] = chosen();
      if (!env) return [{ field: "target.environment", detail: "kies een AFAS omgeving (voeg er eerst een toe via Koppelingen)" }];
      return kind === "afas-sb" ? sb.problems() : profit.problems();
    },
    locate: (f) => (chosen()[0] === "afas-sb" ? sb.locate(f) : profit.locate(f)),
  };
}

/** AFAS Profit: the administration by name, then its dagboeken, memoriaal first. */
function profitPicker(ctx, target, { readOnly, isNew }) {
  const administration = pickOrType({
    label: "Administratie Profit", name: "target.administration", other: "Anders: nummer zelf invullen", readOnly,
    typedLabel: "Administratienummer Profit", typedHelp: "Het nummer van de administratie in Profit, bijvoorbeeld 1.",
    typed: h("input", { type: "text", inputmode: "numeric", autocomplete: "off", maxlength: "5" }),
  });
  const journal = pickOrType({
    label: "Dagboek Profit", name: "target.journal", other: "Anders: code zelf invullen", readOnly,
    typedLabel: "Dagboekcode Profit", typedHelp: "Het memoriaal voor de lonen, bijvoorbeeld 80.",
    typed: h("input", { type: "text", maxlength: "6", autocomplete: "off" }),
  });
  let env = "";
  let wanted = { administration: target.type === "afas-profit" && target.administration != null ? String(target.administration) : "", journal: target.journal ?? "" };
  let seq = 0;
  const loadJournals = async () => {
    const number = administration.value();
    const current = journal.value() || wanted.journal;
    const mine = ++seq;
    if (!/^\d{1,5}$/.test(number)) {
      journal.fill([], current, { empty: "Kies eerst de administratie" });
      return;
    }
    journal.loading("Dagboeken worden opgehaald…", current);
    try {
      const answer = await listed(`/afas-profit/environments/${encodeURIComponent(env)}/administrations/${number}/journals`);
      if (mine !== seq || !ctx.alive()) return;
      const usable = answer.journals.filter((j) => !j.blocked);
      // A new configuration starts on the first memoriaal (the list has them first).
      const pick = current || (isNew && usable[0]?.memorial ? usable[0].code : "");
      journal.fill(answer.journals.map((j) => ({
        value: j.code, disabled: j.blocked,
        text: `${j.code} – ${j.description}${j.memorial ? " (memoriaal)" : ""}${j.blocked ? " (geblokkeerd)" : ""}`,
      })), pick, { empty: "Geen dagboeken gevonden", missing: (code) => `Dagboek ${code} staat niet in de lijst van administratie ${number}.` });
    } catch (error) {
      if (mine !== seq || !ctx.alive()) return;
      journal.fail(unreadable("De dagboeken", "de code", error), current);
    }
  };
  administration.select.addEventListener("change", () => { if (!administration.typedInUse()) loadJournals(); });
  administration.typed.addEventListener("change", loadJournals); // when the typed number is left, not per key
  return {
    node: h("div", null, h("div", { class: "grid-2" }, administration.node, journal.node)),
    async load(environment) {
      if (env) wanted = { administration: administration.value(), journal: journal.value() };
      env = environment;
      const mine = ++seq;
      administration.loading("Administraties worden opgehaald…", wanted.administration);
      journal.loading("Kies eerst de administratie", wanted.journal);
      try {
        const answer = await listed(`/afas-profit/environments/${encodeURIComponent(env)}/administrations`);
        if (mine !== seq || !ctx.alive()) return;
        const only = !wanted.administration && answer.administrations.length === 1 ? String(answer.administrations[0].number) : "";
        administration.fill(answer.administrations.map((a) => ({ value: String(a.number), text: `${a.name} (${a.number})` })),
          wanted.administration || only,
          { empty: "Geen administraties gevonden", missing: (n) => `Administratie ${n} staat niet in de lijst van ${answer.environmentName || env}.` });
      } catch (error) {
        if (mine !== seq || !ctx.alive()) return;
        administration.fail(unreadable("De administraties", "het nummer", error), wanted.administration);
      }
      await loadJournals();
    },
    value: () => {
      const number = administration.value();
      return { administration: /^\d{1,5}$/.test(number) ? Number(number) : null, journal: journal.value() };
    },
    problems: () => {
      const found = [];
      const number = administration.value();
      if (!number) found.push({ field: "target.administration", detail: "kies een administratie (of vul het nummer in)" });
      else if (!/^\d{1,5}$/.test(number) || Number(number) < 1) found.push({ field: "target.administration", detail: "vul een administratienummer in (1 t/m 99999)" });
      if (!journal.value()) found.push({ field: "target.journal", detail: "kies een dagboek (of vul de code in)" });
      return found;
    },
    locate: (f) => administration.locate(f) || journal.locate(f),
  };
}

/** AFAS SB+: the administrations of the chosen customer environment, by name. */
function sbPicker(ctx, target, readOnly) {
  const administration = pickOrType({
    label: "AFAS SB+ administratie", name: "target.administrationId", other: "Anders: id zelf invullen", readOnly,
    typedLabel: "Id van de administratie (AFAS SB+)", typedHelp: "Het id (uuid) van de administratie in AFAS SB+.",
    typed: h("input", { type: "text", spellcheck: "false", autocomplete: "off", placeholder: "701b747b-eea2-5ed1-8518-973e5c670252" }),
  });
  let wanted = (target.type === "afas-sb" && target.administrationId) || "";
  let env = "";
  let seq = 0;
  return {
    node: administration.node,
    async load(environment) {
      if (env) wanted = administration.value();
      env = environment;
      const mine = ++seq;
      const current = wanted.toLowerCase();
      administration.loading("Administraties worden opgehaald…", current);
      try {
        // Not cached: for an Admin Center's new customer environment, an admin's read takes it into use.
        const answer = await api.get(`/afas-sb/environments/${encodeURIComponent(env)}/administrations`);
        if (mine !== seq || !ctx.alive()) return;
        administration.fill(answer.administrations.map((a) => ({ value: a.id, text: a.name === a.id ? a.id : `${a.name} (${a.id})` })), current,
          { empty: "Geen administraties gevonden", missing: (id) => `Administratie ${id} staat niet in de lijst van ${answer.name}.` });
      } catch (error) {
        if (mine !== seq || !ctx.alive()) return;
        administration.fail(unreadable("De administraties", "het id", error), current);
      }
    },
    value: () => administration.value(),
    problems: () => (administration.value() ? [] : [{ field: administration.typedInUse() ? "target.administrationIdTyped" : "target.administrationId", detail: "kies de administratie in AFAS SB+ (of vul het id in)" }]),
    locate: (f) => administration.locate(f),
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

function mappingPart(m, readOnly) {
  const accounts = pairTable("Rekeningen (transponeringstabel)", "Loket rekening", "AFAS rekening", m.accounts, "mapping.accounts", readOnly);
  const fallback = h("input", { type: "text", value: m.fallbackAccount || "", maxlength: "16" });
  const costCenters = h("select", null, Object.entries(COST_CENTERS).map(([v, text]) => h("option", { value: v, selected: m.costCenters === v }, text)));
  const centreMap = pairTable("Kostenplaatsen (vertaaltabel)", "Kostenplaats Loket", "Kostenplaats AFAS", m.costCenterMap, "mapping.costCenterMap", readOnly);
  const showCentres = () => { centreMap.hidden = costCenters.value !== "map"; };
  costCenters.addEventListener("change", showCentres);
  showCentres();
  const description = h("input", { type: "text", value: m.description, maxlength: "200" });
  const periodRule = h("select", null, Object.entries(PERIOD_RULES).map(([v, t]) => h("option", { value: v, selected: (m.periodRule || "") === v }, t)));
  const axis = (value, allowEmpty) => h("select", null, allowEmpty ? h("option", { value: "", selected: value == null }, "Geen (weglaten)") : null,
    [1, 2, 3, 4, 5].map((n) => h("option", { value: String(n), selected: value === n }, `As ${n}`)));
  const centreAxis = axis(m.costCenterAxis, false);
  const unitAxis = axis(m.costUnitAxis, true);
  return {
    node: h("fieldset", null, h("legend", null, "Transponering"),
      h("p", { class: "help" }, "Vertaal Loket-grootboekrekeningen naar AFAS-rekeningen. Rekeningen die niet in de tabel staan gaan naar de terugvalrekening, of ongewijzigd naar AFAS als die leeg is."),
      accounts.node,
      field("Terugvalrekening (optioneel)", fallback, { field: "mapping.fallbackAccount" }),
      field("Kostenplaatsen", costCenters, { field: "mapping.costCenters" }),
      centreMap.node,
      field("Omschrijving", description, { field: "mapping.description", help: "Invulplekken: {periode}, {jaar}, {periodenummer}, {volgnummer}, {administratie}, {klant}." }),
      h("details", null, h("summary", null, "Geavanceerd"),
        field("Boekperiode", periodRule, { field: "mapping.periodRule" }),
        h("div", { class: "grid-2" },
          field("As kostenplaats", centreAxis, { field: "mapping.costCenterAxis" }),
          field("As kostendrager", unitAxis, { field: "mapping.costUnitAxis" })))),
    value: () => ({
      accounts: accounts.value(),
      fallbackAccount: fallback.value.trim() || null,
      costCenters: costCenters.value,
      costCenterAxis: Number(centreAxis.value),
      costUnitAxis: unitAxis.value ? Number(unitAxis.value) : null,
      costCenterMap: centreMap.value(),
      costUnitMap: m.costUnitMap || {},
      description: description.value,
      periodRule: periodRule.value || null,
    }),
    problems: () => [...accounts.problems(), ...centreMap.problems()],
    locate: (f) => accounts.locate(f) || centreMap.locate(f),
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

/** An editable two-column table (Loket code → AFAS code) with its own add/remove buttons. */
function pairTable(caption, left, right, values, prefix, readOnly) {
  const body = h("tbody");
  const addRow = (from = "", to = "") => {
    const a = h("input", { type: "text", value: from, "aria-label": `${left}`, maxlength: "16", disabled: readOnly, dataset: { role: "from" } });
    const b = h("input", { type: "text", value: to, "aria-label": `${right} voor ${from || "nieuwe regel"}`, maxlength: "16", disabled: readOnly, dataset: { role: "to" } });
    const remove = readOnly ? null : h("button", { type: "button", class: "link", "aria-label": `Regel ${from || "(nieuw)"} verwijderen`, onclick: () => { row.remove(); } }, "Verwijderen");
    a.addEventListener("input", () => {
      b.setAttribute("aria-label", `${right} voor ${a.value || "nieuwe regel"}`);
      remove?.setAttribute("aria-label", `Regel ${a.value || "(nieuw)"} verwijderen`);
    });
    const row = h("tr", null, h("td", null, a), h("td", null, b), remove ? h("td", null, remove) : null);
    body.append(row);
    return a;
  };
  for (const [from, to] of Object.entries(values || {})) addRow(from, to);
  const node = h("div", { class: "field", dataset: { field: prefix } },
    h("table", { class: "row-inputs" }, h("caption", { class: "pair-caption" }, caption),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, left), h("th", { scope: "col" }, right), readOnly ? null : h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Acties")))),
      body),
    readOnly ? null : h("button", { type: "button", class: "secondary", onclick: () => addRow().focus() }, "Regel toevoegen"));
  /** @type {() => Array<[HTMLInputElement, HTMLInputElement]>} */
  const rows = () => [...body.rows].map((tr) => [/** @type {HTMLInputElement} */ (tr.querySelector("[data-role=from]")), /** @type {HTMLInputElement} */ (tr.querySelector("[data-role=to]"))]);
  return {
    node,
    value: () => Object.fromEntries(rows().filter(([a, b]) => a.value.trim() || b.value.trim()).map(([a, b]) => [a.value.trim(), b.value.trim()])),
    problems: () => {
      const seen = new Set();
      const found = [];
      for (const [a, b] of rows()) {
        const key = a.value.trim();
        if (!key && !b.value.trim()) continue;
        // Each error names its own row (node): a duplicate lands on the duplicate, not the first.
        if (!key) found.push({ field: `${prefix}.?`, detail: "de Loket-code ontbreekt", node: a });
        else if (seen.has(key)) found.push({ field: `${prefix}.${key}`, detail: "staat al in de tabel", node: a, duplicate: true });
        else if (!b.value.trim()) found.push({ field: `${prefix}.${key}`, detail: "vul de AFAS-code in", node: b });
        seen.add(key);
      }
      return found;
    },
    /** "mapping.accounts.4000" or "mapping.accounts.x y.[key]" → the row's AFAS input. */
    locate: (f) => {
      if (!f.startsWith(prefix + ".")) return null;
      const key = f.slice(prefix.length + 1).replace(/\.\[key\]$/, "");
      const match = rows().find(([a]) => a.value.trim() === key) || (key === "?" ? rows().find(([a, b]) => !a.value.trim() && b.value.trim()) : null);
      if (!match) return null;
      return f.endsWith(".[key]") || key === "?" ? match[0] : match[1];
    },
    set hidden(v) { node.hidden = v; },
  };
}

// -- preview -----------------------------------------------------------------------------------------

export async function preview(ctx) {
  const { view, query } = ctx;
  add(view, ...pageHeader("Voorbeeld journaalpost", [CRUMBS[0], ["Voorbeeld journaalpost"]]));
  const answer = await api.get("/clients");
  if (!ctx.alive()) return;
  add(view, h("p", null, "Bekijk welke journaalpost een Loket-journaalrun in AFAS wordt, met de controles vooraf. Er wordt niets geboekt."));
  if (!answer.clients.length) {
    add(view, empty(h("p", null, "Er zijn nog geen klantconfiguraties. "), h("a", { href: "#/klanten" }, "Voeg eerst een klant toe")));
    return;
  }
  const client = h("select", null, answer.clients.map((c) => h("option", { value: c.clientId, selected: query.get("klant") === c.clientId }, `${c.clientId} – ${c.name || c.loketAdministrationName}`)));
  const run = h("input", { type: "text", spellcheck: "false", autocomplete: "off", value: query.get("run") || "" });
  const show = h("button", { type: "submit" }, "Voorbeeld tonen");
  const result = h("div", { "aria-live": "polite" });
  const formNode = h("form", { class: "panel", novalidate: true },
    h("div", { class: "grid-2" },
      field("Klant", client, { field: "clientId" }),
      field("Loket journaalrun-id", run, { field: "loketJournalRunId", help: "Te vinden bij een run, tabblad Loonruns ('Bekijk boeking')." })),
    h("div", { class: "actions" }, show));
  const go = () => busy(show, async () => {
    clearErrors(formNode);
    result.replaceChildren(h("p", { class: "loading" }, "Het voorbeeld wordt opgehaald uit Loket.nl en gecontroleerd in AFAS…"));
    try {
      if (!run.value.trim()) throw new ApiError(422, { detail: "Vul het id van de Loket journaalrun in.", errors: [{ field: "loketJournalRunId", detail: "is verplicht" }] });
      const entry = await api.post(`/clients/${encodeURIComponent(client.value)}/preview`, { loketJournalRunId: run.value.trim() });
      if (!ctx.alive()) return;
      result.replaceChildren(previewResult(entry));
    } catch (error) {
      const unplaced = showErrors(formNode, error.errors);
      result.replaceChildren(problemNotice(error, unplaced));
    }
  });
  formNode.addEventListener("submit", (e) => { e.preventDefault(); go(); });
  add(view, formNode, result);
  if (query.get("klant") && query.get("run")) go();
}

function previewResult(p) {
  const state = p.alreadyBooked
    ? badge("imported", `Al geboekt${p.entryNumber ? ` (journaalpost ${p.entryNumber})` : ""}`)
    : p.postable ? badge("done", "Kan geboekt worden") : badge("failed", "Kan niet geboekt worden");
  const dims = (line) => Object.entries(line.dimensions).map(([axis, code]) => `as ${axis}: ${code}`).join(", ") || "—";
  return h("section", { "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title" }, `Journaalpost voor klant ${p.clientId}, periode ${period(p.payrollPeriod)} (volgnr. ${p.sequenceNumber})`),
    h("dl", { class: "facts" },
      h("dt", null, "Status"), h("dd", null, state),
      h("dt", null, "Doel"), h("dd", null, p.targetType === "afas-sb" ? "AFAS SB+" : `AFAS Profit, dagboek ${p.journal}`),
      h("dt", null, "Boekjaar / periode"), h("dd", null, p.year ? `${p.year} / ${p.period}` : "—"),
      h("dt", null, "Boekdatum"), h("dd", null, date(p.entryDate)),
      h("dt", null, p.targetType === "afas-sb" ? "Tracking-id" : "Boekstuknummer"), h("dd", { class: "mono" }, p.reference),
      h("dt", null, "Omschrijving"), h("dd", null, p.description),
      p.testYear ? [h("dt", null, "Let op"), h("dd", null, "Dit is een run uit een testjaar; die wordt niet geboekt.")] : null),
    p.findings.length
      ? h("div", null, h("h3", null, `Bevindingen (${p.findings.length})`),
        h("ul", { class: "messages" }, p.findings.map((f) => h("li", { class: f.severity },
          h("div", { class: "meta" }, badge(f.severity, f.severity === "error" ? "Blokkeert boeken" : "Waarschuwing"), f.account ? ` · rekening ${f.account}` : ""),
          h("p", { class: "text" }, f.text),
          f.hint ? h("p", { class: "hint" }, h("strong", null, "Wat kunt u doen: "), f.hint) : null))))
      : notice("ok", h("p", null, "Geen bevindingen: de controles vooraf zijn in orde.")),
    h("h3", null, `Regels (${p.lines.length})`),
    h("div", { class: "table-wrap" }, h("table", { class: "stack" },
      h("caption", { class: "visually-hidden" }, "Regels van de journaalpost"),
      h("thead", null, h("tr", null, ["Rekening", "Omschrijving", "Debet", "Credit", "Verbijzondering"].map((t, i) => h("th", { scope: "col", class: i === 2 || i === 3 ? "num" : null }, t)))),
      h("tbody", null, p.lines.map((l) => h("tr", null,
        h("td", { "data-label": "Rekening" }, l.account),
        h("td", { "data-label": "Omschrijving" }, l.description),
        h("td", { "data-label": "Debet", class: "num" }, money(l.debit)),
        h("td", { "data-label": "Credit", class: "num" }, money(l.credit)),
        h("td", { "data-label": "Verbijzondering" }, dims(l))))),
      h("tfoot", null, h("tr", { class: "totals" },
        h("td", { "data-label": "Totaal", colspan: "2" }, "Totaal"),
        h("td", { "data-label": "Totaal debet", class: "num" }, money(p.totalDebit)),
        h("td", { "data-label": "Totaal credit", class: "num" }, money(p.totalCredit)),
        h("td", null, p.totalDebit === p.totalCredit ? "In balans" : "Niet in balans"))))));
}
