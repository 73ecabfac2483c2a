// @ts-check
// The client form's Transponering: the account table, the fallback account, cost centres (with
// their own table), the description and, under Geavanceerd, the period rule and the axes.
import { field, h } from "./ui.js";

/** @typedef {import("./ui.js").FieldError} FieldError */
/** A table row's two inputs (Loket code, AFAS code); anything with a value, for the tests. */
/** @typedef {[{value: string}, {value: string}]} Pair */

/** @type {Record<string, string>} */
const COST_CENTERS = { pass: "Overnemen uit Loket", map: "Vertalen met een tabel", drop: "Weglaten" };
/** @type {Record<string, string>} */
const PERIOD_RULES = {
  "": "Standaard (loonperiode; 4-weken en week: maand van de einddatum)",
  "payroll-period": "Loonperiode = boekperiode",
  "end-date-month": "Maand van de einddatum van de loonperiode",
  "start-date-month": "Maand van de begindatum van de loonperiode",
};

/**
 * A select of fixed choices ({value: text}), the current one selected.
 * @param {Record<string, string>} choices @param {string} current
 * @returns {HTMLSelectElement}
 */
function choiceSelect(choices, current) {
  return h("select", null, Object.entries(choices).map(([v, text]) => h("option", { value: v, selected: current === v }, text)));
}

/**
 * As 1 to 5, or (allowEmpty) none.
 * @param {number | null | undefined} value @param {boolean} allowEmpty
 * @returns {HTMLSelectElement}
 */
function axisSelect(value, allowEmpty) {
  return h("select", null, allowEmpty ? h("option", { value: "", selected: value == null }, "Geen (weglaten)") : null,
    [1, 2, 3, 4, 5].map((n) => h("option", { value: String(n), selected: value === n }, `As ${n}`)));
}

/**
 * The Transponering part of the client form.
 * @param {any} m the stored (or new) mapping
 * @param {boolean} readOnly
 */
export function mappingPart(m, readOnly) {
  const accounts = pairTable("Rekeningen (transponeringstabel)", "Loket rekening", "AFAS rekening", m.accounts, "mapping.accounts", readOnly);
  const fallback = h("input", { type: "text", value: m.fallbackAccount || "", maxlength: "16" });
  const costCenters = choiceSelect(COST_CENTERS, m.costCenters);
  const centreMap = pairTable("Kostenplaatsen (vertaaltabel)", "Kostenplaats Loket", "Kostenplaats AFAS", m.costCenterMap, "mapping.costCenterMap", readOnly);
  const showCentres = () => { centreMap.hidden = costCenters.value !== "map"; };
  costCenters.addEventListener("change", showCentres);
  showCentres();
  const description = h("input", { type: "text", value: m.description, maxlength: "200" });
  const periodRule = choiceSelect(PERIOD_RULES, m.periodRule || "");
  const centreAxis = axisSelect(m.costCenterAxis, false);
  const unitAxis = axisSelect(m.costUnitAxis, true);
  return {
    node: h("fieldset", null, h("legend", null, "Transponering"),
      h("p", { class: "help" }, "Vertaal Loket-grootboekrekeningen naar AFAS-rekeningen. Rekeningen die niet in de tabel staan gaan naar de terugvalrekening, of ongewijzigd naar AFAS als die leeg is."),
      accounts.node,
      field("Terugvalrekening (optioneel)", fallback, { field: "mapping.fallbackAccount" }),
      field("Kostenplaatsen", costCenters, { field: "mapping.costCenters" }),
      centreMap.node,
      field("Omschrijving", description, { field: "mapping.description", help: "Invulplekken: {periode}, {jaar}, {periodenummer}, {volgnummer}, {administratie}, {client}." }),
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
    /** @returns {FieldError[]} */
    problems: () => [...accounts.problems(), ...centreMap.problems()],
    /** @param {string} f */
    locate: (f) => accounts.locate(f) || centreMap.locate(f),
  };
}

// -- pair tables (Loket code → AFAS code) -------------------------------------------------------------

/**
 * The filled rows as {Loket code: AFAS code}, trimmed; empty rows are left out.
 * @param {Pair[]} rows
 * @returns {Record<string, string>}
 */
export function pairValue(rows) {
  return Object.fromEntries(rows.filter(([a, b]) => a.value.trim() || b.value.trim()).map(([a, b]) => [a.value.trim(), b.value.trim()]));
}

/**
 * The rows' problems: a missing Loket code, a code twice, a missing AFAS code. Each error names
 * its own row (node): a duplicate lands on the duplicate, not the first.
 * @template {Pair} P
 * @param {P[]} rows @param {string} prefix e.g. "mapping.accounts"
 * @returns {Array<{field: string, detail: string, node: P[number], duplicate?: boolean}>}
 */
export function pairProblems(rows, prefix) {
  const seen = new Set();
  const found = [];
  for (const [a, b] of rows) {
    const key = a.value.trim();
    if (!key && !b.value.trim()) continue;
    if (!key) found.push({ field: `${prefix}.?`, detail: "de Loket-code ontbreekt", node: a });
    else if (seen.has(key)) found.push({ field: `${prefix}.${key}`, detail: "staat al in de tabel", node: a, duplicate: true });
    else if (!b.value.trim()) found.push({ field: `${prefix}.${key}`, detail: "vul de AFAS-code in", node: b });
    seen.add(key);
  }
  return found;
}

/**
 * Where a server error about a row goes: "mapping.accounts.4000" → that row's AFAS input,
 * "mapping.accounts.x y.[key]" → its Loket input, "mapping.accounts.?" → the Loket input of the
 * row without a code; null when the error is not about this table or names no row.
 * @template {Pair} P
 * @param {P[]} rows @param {string} prefix @param {string} f
 * @returns {P[number] | null}
 */
export function locatePair(rows, prefix, f) {
  if (!f.startsWith(prefix + ".")) return null;
  const key = f.slice(prefix.length + 1).replace(/\.\[key\]$/, "");
  const match = rows.find(([a]) => a.value.trim() === key) || (key === "?" ? rows.find(([a, b]) => !a.value.trim() && b.value.trim()) : null);
  if (!match) return null;
  return f.endsWith(".[key]") || key === "?" ? match[0] : match[1];
}

/**
 * One row: the two inputs (the AFAS one and the remove button are named after the Loket code)
 * and, unless read-only, Verwijderen.
 * @param {{left: string, right: string, readOnly: boolean}} labels @param {string} from @param {string} to
 * @returns {HTMLTableRowElement}
 */
function pairRow({ left, right, readOnly }, from, to) {
  const a = h("input", { type: "text", value: from, "aria-label": `${left}`, maxlength: "16", disabled: readOnly, dataset: { role: "from" } });
  const b = h("input", { type: "text", value: to, "aria-label": `${right} voor ${from || "nieuwe regel"}`, maxlength: "16", disabled: readOnly, dataset: { role: "to" } });
  const remove = readOnly ? null : h("button", { type: "button", class: "link", "aria-label": `Regel ${from || "(nieuw)"} verwijderen`, onclick: () => { row.remove(); } }, "Verwijderen");
  a.addEventListener("input", () => {
    b.setAttribute("aria-label", `${right} voor ${a.value || "nieuwe regel"}`);
    remove?.setAttribute("aria-label", `Regel ${a.value || "(nieuw)"} verwijderen`);
  });
  const row = h("tr", null, h("td", null, a), h("td", null, b), remove ? h("td", null, remove) : null);
  return row;
}

/**
 * An editable two-column table (Loket code → AFAS code) with its own add/remove buttons.
 * @param {string} caption @param {string} left @param {string} right
 * @param {Record<string, string> | undefined} values @param {string} prefix @param {boolean} readOnly
 */
function pairTable(caption, left, right, values, prefix, readOnly) {
  const body = h("tbody");
  const addRow = (from = "", to = "") => {
    const row = pairRow({ left, right, readOnly }, from, to);
    body.append(row);
    return /** @type {HTMLInputElement} */ (row.querySelector("[data-role=from]"));
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
    value: () => pairValue(rows()),
    problems: () => pairProblems(rows(), prefix),
    /** @param {string} f */
    locate: (f) => locatePair(rows(), prefix, f),
    /** @param {boolean} v */
    set hidden(v) { node.hidden = v; },
  };
}
