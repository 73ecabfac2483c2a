// @ts-check
// The client form's AFAS part: the environment, then the Profit administration and dagboek or
// the SB administration, each picked from what AFAS lists, with a typed value as the fallback.
import { api } from "./api.js";
import { add, field, h } from "./ui.js";

const TYPED = "__typed__";

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

export function targetPart(ctx, c, afas, { readOnly, isNew }) {
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
