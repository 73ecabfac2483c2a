// @ts-check
// The client form's Transponering: the account table, the fallback account, cost centres (with
// their own table), the description and, under Geavanceerd, the period rule and the axes.
import { field, h } from "./ui.js";

const COST_CENTERS = { pass: "Overnemen uit Loket", map: "Vertalen met een tabel", drop: "Weglaten" };
const PERIOD_RULES = {
  "": "Standaard (loonperiode; 4-weken en week: maand van de einddatum)",
  "payroll-period": "Loonperiode = boekperiode",
  "end-date-month": "Maand van de einddatum van de loonperiode",
  "start-date-month": "Maand van de begindatum van de loonperiode",
};


export function mappingPart(m, readOnly) {
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
