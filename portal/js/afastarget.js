// @ts-check
// The client form's AFAS part: the environment, then the Profit administration and dagboek or
// the SB administration, each picked from what AFAS lists, with a typed value as the fallback.
// The option texts and the checks are small pure functions (tests/portal/clientform.test.js).
import { api } from "./api.js";
import { add, field, h } from "./ui.js";

/**
 * One part of the client form: its nodes, its value, the problems it sees itself, and where a
 * server error about one of its fields goes.
 * @typedef {import("./ui.js").FieldError} FieldError
 * @typedef {{value: string, text: string, disabled?: boolean}} Option
 * @typedef {{kind: string, environment: string, active?: boolean, viaAdminCenter?: boolean,
 *   details?: {environmentName?: string, role?: string}}} Connection
 * @typedef {{type: string, environment?: string, administration?: number | null, journal?: string,
 *   administrationId?: string}} Target
 * @typedef {{alive: () => boolean}} Alive
 */

const TYPED = "__typed__";
const PROFIT_NUMBER = /^\d{1,5}$/;

// What AFAS lists, read once per address for a few minutes (AFAS's fair use: a form that is
// opened, switched between environments or administrations, never reads on a keystroke).
/** @type {Map<string, {at: number, answer: Promise<any>}>} */
const LISTED = new Map();
const LISTED_FOR_MS = 5 * 60_000;
/** @param {string} path @returns {Promise<any>} */
function listed(path) {
  const hit = LISTED.get(path);
  if (hit && Date.now() - hit.at < LISTED_FOR_MS) return hit.answer;
  const answer = api.get(path);
  LISTED.set(path, { at: Date.now(), answer });
  answer.catch(() => LISTED.delete(path));
  return answer;
}

/**
 * Why a list is not there, and what to do: type the value (the save checks it).
 * @param {string} what @param {string} value @param {{status?: number, detail?: string}} error
 * @returns {string}
 */
export function unreadable(what, value, error) {
  const why = error.status === 0 || error.status === 503
    ? "AFAS is nu niet bereikbaar of bezig"
    : (error.detail || "").replace(/\.$/, "");
  return `${what} konden niet worden opgehaald (${why}). Vul ${value} zelf in; bij het opslaan wordt het gecontroleerd.`;
}

// -- pick or type ---------------------------------------------------------------------------------

/**
 * A select of what AFAS lists, with "Anders: … zelf invullen" and a typed field as the fallback
 * (AFAS not reachable, or a value AFAS does not list). Server errors about `name` land on the
 * control in use.
 * @param {{label: string, name: string, other: string, typedLabel: string, typedHelp: string,
 *   typed: HTMLInputElement, readOnly: boolean}} options
 */
function pickOrType({ label, name, other, typedLabel, typedHelp, typed, readOnly }) {
  const select = h("select", null);
  const status = h("p", { class: "help", "aria-live": "polite" });
  const typedField = field(typedLabel, typed, { field: `${name}Typed`, help: typedHelp });
  const sync = () => { typedField.hidden = select.value !== TYPED; };
  select.addEventListener("change", sync);
  /** @param {boolean} selected */
  const otherOption = (selected) => h("option", { value: TYPED, selected }, other);
  const lock = () => { if (readOnly) { select.disabled = true; typed.disabled = true; } };
  return {
    select, typed,
    node: h("div", null, field(label, select, { field: name }), status, typedField),
    /**
     * While AFAS is asked: the stored value stays the value (in the hidden typed field).
     * @param {string} text @param {string} current
     */
    loading(text, current) {
      typed.value = current;
      select.replaceChildren(h("option", { value: TYPED }, text));
      status.replaceChildren();
      typedField.hidden = true;
      lock();
    },
    /**
     * options: [{value, text, disabled?}]; current: the stored or chosen value ("" = none).
     * @param {Option[]} options
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
    /** @param {string} text @param {string} current */
    fail(text, current) {
      typed.value = current;
      select.replaceChildren(otherOption(true));
      status.replaceChildren(text);
      sync();
      lock();
    },
    /** @returns {string} */
    value: () => (select.value === TYPED ? typed.value.trim() : select.value),
    typedInUse: () => select.value === TYPED,
    /** @param {string} f */
    locate: (f) => (f === name ? (select.value === TYPED ? typed : select) : null),
  };
}
/** @typedef {ReturnType<typeof pickOrType>} PickOrType */

// -- the AFAS environment -------------------------------------------------------------------------

/**
 * An AFAS connection as the environment select shows it.
 * @param {Connection} x
 * @returns {string}
 */
export function environmentText(x) {
  const product = x.kind === "afas-profit" ? "AFAS Profit" : "AFAS SB";
  const name = x.details?.environmentName || x.environment;
  const number = x.kind === "afas-profit" || (x.details?.environmentName && x.details.environmentName !== x.environment) ? ` (${x.environment})` : "";
  const via = x.viaAdminCenter || x.details?.role === "scope" ? ", via Admin Center" : "";
  return `${product} – ${name}${number}${via}${x.active ? "" : " (inactief)"}`;
}

/**
 * The environment select: every bookable connection, and the stored one when it is gone.
 * @param {Connection[]} afas @param {Target} target
 * @returns {HTMLSelectElement}
 */
function environmentSelect(afas, target) {
  const environment = h("select", null,
    afas.map((x) => h("option", { value: `${x.kind}|${x.environment}`, selected: target.type === x.kind && target.environment === x.environment }, environmentText(x))));
  if (target.environment && !afas.some((x) => x.kind === target.type && x.environment === target.environment)) {
    add(environment, h("option", { value: `${target.type}|${target.environment}`, selected: true }, `${target.environment} (koppeling ontbreekt)`));
  }
  return environment;
}

/**
 * The AFAS part: the environment, and the Profit or SB picker for it.
 * @param {Alive} ctx @param {{target: Target}} c @param {Connection[]} afas
 * @param {{readOnly: boolean, isNew: boolean}} options
 */
export function targetPart(ctx, c, afas, { readOnly, isNew }) {
  const environment = environmentSelect(afas, c.target);
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
    /** @returns {Target} */
    value: () => {
      const [kind, env] = chosen();
      return kind === "afas-sb" ? { type: "afas-sb", environment: env, administrationId: sb.value() } : { type: "afas-profit", environment: env || "", ...profit.value() };
    },
    /** @returns {FieldError[]} */
    problems: () => {
      const [kind, env] = chosen();
      if (!env) return [{ field: "target.environment", detail: "kies een AFAS omgeving (voeg er eerst een toe via Koppelingen)" }];
      return kind === "afas-sb" ? sb.problems() : profit.problems();
    },
    /** @param {string} f */
    locate: (f) => (chosen()[0] === "afas-sb" ? sb.locate(f) : profit.locate(f)),
  };
}

// -- AFAS Profit ------------------------------------------------------------------------------------

/**
 * Profit's dagboeken as options, memoriaal and geblokkeerd said in the text.
 * @param {Array<{code: string, description: string, memorial?: boolean, blocked?: boolean}>} journals
 * @returns {Option[]}
 */
export function journalOptions(journals) {
  return journals.map((j) => ({
    value: j.code, disabled: j.blocked,
    text: `${j.code} – ${j.description}${j.memorial ? " (memoriaal)" : ""}${j.blocked ? " (geblokkeerd)" : ""}`,
  }));
}

/**
 * The dagboek to select: the current one, else for a new configuration the first memoriaal that
 * is not blocked (the list has the memorials first), else none.
 * @param {Array<{code: string, memorial?: boolean, blocked?: boolean}>} journals
 * @param {string} current @param {boolean} isNew
 * @returns {string}
 */
export function journalToPick(journals, current, isNew) {
  const usable = journals.filter((j) => !j.blocked);
  return current || (isNew && usable[0]?.memorial ? usable[0].code : "");
}

/**
 * The problems of a Profit target: an administration number (1 to 99999) and a dagboek.
 * @param {string} number @param {string} journal
 * @returns {FieldError[]}
 */
export function profitProblems(number, journal) {
  const found = [];
  if (!number) found.push({ field: "target.administration", detail: "kies een administratie (of vul het nummer in)" });
  else if (!PROFIT_NUMBER.test(number) || Number(number) < 1) found.push({ field: "target.administration", detail: "vul een administratienummer in (1 t/m 99999)" });
  if (!journal) found.push({ field: "target.journal", detail: "kies een dagboek (of vul de code in)" });
  return found;
}

/** @param {boolean} readOnly */
function profitControls(readOnly) {
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
  return { administration, journal };
}

/**
 * What the Profit picker is showing: the environment, what should be selected once AFAS's lists
 * are there, and a counter so that only the newest answer is drawn.
 * @typedef {{env: string, wanted: {administration: string, journal: string}, seq: number}} ProfitState
 */

/**
 * The dagboeken of the chosen administration, read from AFAS. Only the newest request draws: an
 * answer for an administration the user has already left is dropped (a quick switch must never
 * show the previous administration's dagboeken). A dagboek chosen under another administration
 * is not carried over (its code means another dagboek there): the stored one for the stored
 * administration, else the memoriaal.
 * @param {Alive} ctx @param {{administration: PickOrType, journal: PickOrType}} controls
 * @param {ProfitState} state @param {boolean} isNew @param {boolean} switched the user chose another administration
 */
async function loadJournals(ctx, { administration, journal }, state, isNew, switched) {
  const number = administration.value();
  const stored = number === state.wanted.administration ? state.wanted.journal : "";
  const current = switched ? stored : journal.value() || state.wanted.journal;
  const mine = ++state.seq;
  if (!PROFIT_NUMBER.test(number)) {
    journal.fill([], current, { empty: "Kies eerst de administratie" });
    return;
  }
  journal.loading("Dagboeken worden opgehaald…", current);
  try {
    const answer = await listed(`/afas-profit/environments/${encodeURIComponent(state.env)}/administrations/${number}/journals`);
    if (mine !== state.seq || !ctx.alive()) return;
    journal.fill(journalOptions(answer.journals), journalToPick(answer.journals, current, isNew || switched),
      { empty: "Geen dagboeken gevonden", missing: (code) => `Dagboek ${code} staat niet in de lijst van administratie ${number}.` });
  } catch (error) {
    if (mine !== state.seq || !ctx.alive()) return;
    journal.fail(unreadable("De dagboeken", "de code", error), current);
  }
}

/**
 * The administrations of the environment, read from AFAS (the only one is chosen for a new one).
 * @param {Alive} ctx @param {{administration: PickOrType, journal: PickOrType}} controls
 * @param {ProfitState} state
 */
async function loadAdministrations(ctx, { administration, journal }, state) {
  const mine = ++state.seq;
  const { env, wanted } = state;
  administration.loading("Administraties worden opgehaald…", wanted.administration);
  journal.loading("Kies eerst de administratie", wanted.journal);
  try {
    const answer = await listed(`/afas-profit/environments/${encodeURIComponent(env)}/administrations`);
    if (mine !== state.seq || !ctx.alive()) return false;
    const only = !wanted.administration && answer.administrations.length === 1 ? String(answer.administrations[0].number) : "";
    administration.fill(answer.administrations.map((/** @type {{number: number, name: string}} */ a) => ({ value: String(a.number), text: `${a.name} (${a.number})` })),
      wanted.administration || only,
      { empty: "Geen administraties gevonden", missing: (n) => `Administratie ${n} staat niet in de lijst van ${answer.environmentName || env}.` });
  } catch (error) {
    if (mine !== state.seq || !ctx.alive()) return false;
    administration.fail(unreadable("De administraties", "het nummer", error), wanted.administration);
  }
  return true;
}

/**
 * AFAS Profit: the administration by name, then its dagboeken, memoriaal first.
 * @param {Alive} ctx @param {Target} target @param {{readOnly: boolean, isNew: boolean}} options
 */
function profitPicker(ctx, target, { readOnly, isNew }) {
  const controls = profitControls(readOnly);
  const { administration, journal } = controls;
  // What is stored belongs to the stored environment: another environment starts with nothing
  // chosen (administration 1 there is another administration).
  const stored = {
    env: target.type === "afas-profit" ? target.environment ?? "" : "",
    wanted: { administration: target.type === "afas-profit" && target.administration != null ? String(target.administration) : "", journal: target.journal ?? "" },
  };
  /** @type {ProfitState} */
  const state = { env: "", wanted: stored.wanted, seq: 0 };
  /** @param {boolean} switched */
  const journals = (switched) => loadJournals(ctx, controls, state, isNew, switched);
  administration.select.addEventListener("change", () => { if (!administration.typedInUse()) journals(true); });
  administration.typed.addEventListener("change", () => journals(true)); // when the typed number is left, not per key
  return {
    node: h("div", null, h("div", { class: "grid-2" }, administration.node, journal.node)),
    /** @param {string} environment */
    async load(environment) {
      if (state.env === environment) state.wanted = { administration: administration.value(), journal: journal.value() };
      else state.wanted = environment === stored.env ? stored.wanted : { administration: "", journal: "" };
      state.env = environment;
      if (await loadAdministrations(ctx, controls, state)) await journals(false);
    },
    value: () => {
      const number = administration.value();
      return { administration: PROFIT_NUMBER.test(number) ? Number(number) : null, journal: journal.value() };
    },
    problems: () => profitProblems(administration.value(), journal.value()),
    /** @param {string} f */
    locate: (f) => administration.locate(f) || journal.locate(f),
  };
}

// -- AFAS SB ---------------------------------------------------------------------------------------

/**
 * SB's administrations as options: the name with the id, or the id alone.
 * @param {Array<{id: string, name: string}>} administrations
 * @returns {Option[]}
 */
export function sbAdministrationOptions(administrations) {
  return administrations.map((a) => ({ value: a.id, text: a.name === a.id ? a.id : `${a.name} (${a.id})` }));
}

/**
 * AFAS SB: the administrations of the chosen customer environment, by name.
 * @param {Alive} ctx @param {Target} target @param {boolean} readOnly
 */
function sbPicker(ctx, target, readOnly) {
  const administration = pickOrType({
    label: "AFAS SB administratie", name: "target.administrationId", other: "Anders: id zelf invullen", readOnly,
    typedLabel: "Id van de administratie (AFAS SB)", typedHelp: "Het id (uuid) van de administratie in AFAS SB.",
    typed: h("input", { type: "text", spellcheck: "false", autocomplete: "off", placeholder: "701b747b-eea2-5ed1-8518-973e5c670252" }),
  });
  const storedEnv = target.type === "afas-sb" ? target.environment ?? "" : "";
  const stored = (target.type === "afas-sb" && target.administrationId) || "";
  let wanted = stored;
  let env = "";
  let seq = 0;
  return {
    node: administration.node,
    /** @param {string} environment */
    async load(environment) {
      if (env === environment) wanted = administration.value();
      else wanted = environment === storedEnv ? stored : ""; // another environment: another list
      env = environment;
      const mine = ++seq;
      const current = wanted.toLowerCase();
      administration.loading("Administraties worden opgehaald…", current);
      try {
        // Not cached: for an Admin Center's new customer environment, an admin's read takes it into use.
        const answer = await api.get(`/afas-sb/environments/${encodeURIComponent(env)}/administrations`);
        if (mine !== seq || !ctx.alive()) return;
        administration.fill(sbAdministrationOptions(answer.administrations), current,
          { empty: "Geen administraties gevonden", missing: (id) => `Administratie ${id} staat niet in de lijst van ${answer.name}.` });
      } catch (error) {
        if (mine !== seq || !ctx.alive()) return;
        administration.fail(unreadable("De administraties", "het id", error), current);
      }
    },
    value: () => administration.value(),
    /** @returns {FieldError[]} */
    problems: () => (administration.value() ? [] : [{ field: administration.typedInUse() ? "target.administrationIdTyped" : "target.administrationId", detail: "kies de administratie in AFAS SB (of vul het id in)" }]),
    /** @param {string} f */
    locate: (f) => administration.locate(f),
  };
}
