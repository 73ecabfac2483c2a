// @ts-check
// Aansluiting (issue 20): per client and year, does AFAS still hold what Loket journalled?
// Years, periods green/red, every difference in Dutch with what to do, the drill-down to the
// journal run (with its audit copy) and the AFAS entry, and the CSV export. Read-only.
import { api, download } from "./api.js";
import { add, badge, busy, empty, h, money, notice, pageHeader, problemNotice, table, whatToDo } from "./ui.js";

const CRUMB = ["Aansluiting", "#/aansluiting"];
/** @type {Record<string, [string, string]>} */
const STATUS = {
  green: ["done", "Sluit aan"],
  red: ["failed", "Verschil"],
  empty: ["info", "Leeg"],
};
const MONTHS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
  "september", "oktober", "november", "december"];

const euro = (text) => `€ ${money(text)}`;
const periodName = (year, n) => `${n}${MONTHS[n - 1] ? ` (${MONTHS[n - 1]})` : ""} ${year}`;
const clientHref = (id, year) =>
  `#/clients/${encodeURIComponent(id)}/aansluiting${year ? `?jaar=${year}` : ""}`;

/** The clients to choose from (the check itself runs per client: it reads Loket and AFAS). */
export async function overview(ctx) {
  const { view } = ctx;
  add(view, ...pageHeader("Aansluiting", [["Aansluiting"]]));
  const answer = await api.get("/clients");
  if (!ctx.alive()) return;
  add(view, h("p", null,
    "Per client en per jaar: staat in AFAS nog precies wat Loket.nl journaliseerde? Loonbrug vergelijkt de ",
    "totalen per grootboekrekening en periode tot op de cent, en legt elk verschil uit. Elke week controleert ",
    "Loonbrug dit jaar en vorig jaar en mailt bij een nieuw verschil (Meldingen)."));
  if (!answer.clients.length) {
    add(view, empty(h("p", null, h("strong", null, "Nog geen client configuraties.")),
      h("p", null, "Voeg eerst een client toe onder ", h("a", { href: "#/clients" }, "Client configuraties"), ".")));
    return;
  }
  add(view, table([
    { label: "Clientnr.", key: "clientId" },
    { label: "Naam", render: (c) => c.name || c.loketAdministrationName || "—" },
    { label: "AFAS", render: (c) => (c.target?.type === "afas-sb" ? "AFAS SB" : "AFAS Profit") },
    { label: "Aansluiting", render: (c) => h("a", { href: clientHref(c.clientId), "aria-label": `Aansluiting van client ${c.clientId}` }, "Bekijken") },
  ], answer.clients, { caption: "Client configuraties" }));
}

export async function client(ctx) {
  const { view, params, query } = ctx;
  const [clientId] = params;
  const year = query.get("jaar") || "";
  const header = pageHeader("Aansluiting", [CRUMB, [`Client ${clientId}`]]);
  add(view, ...header);
  const loading = h("p", { class: "loading" }, "Loket en AFAS worden vergeleken…");
  add(view, loading);
  let body;
  try {
    body = await api.get(`/clients/${encodeURIComponent(clientId)}/reconciliation`, year ? { year } : undefined);
  } catch (error) {
    if (!ctx.alive()) return;
    loading.replaceWith(problemNotice(error));
    return;
  }
  if (!ctx.alive()) return;
  header[1].textContent = `Aansluiting ${body.year}: client ${body.clientId}${body.clientName ? ` – ${body.clientName}` : ""}`;
  const problems = h("div", { "aria-live": "polite" });
  const csv = h("a", { href: body.exports.csv, download: "", class: "button secondary", "aria-label": `Aansluiting ${body.year} van client ${body.clientId} als CSV` }, "Exporteren (CSV)");
  csv.addEventListener("click", (e) => {
    e.preventDefault();
    busy(csv, async () => {
      problems.replaceChildren();
      try { await download(body.exports.csv, `aansluiting-${body.clientId}-${body.year}.csv`); } catch (error) { problems.replaceChildren(problemNotice(error)); }
    }, { text: "Bezig met downloaden…" });
  });
  loading.replaceWith(
    h("nav", { class: "toolbar", "aria-label": "Jaren" },
      h("span", { class: "muted" }, "Jaar:"),
      body.years.map((y) => (y === body.year
        ? h("strong", { "aria-current": "page" }, String(y))
        : h("a", { href: clientHref(body.clientId, y) }, String(y)))),
      h("span", { class: "spacer" }), csv),
    problems,
    notice(body.status === "green" ? "ok" : "error",
      h("p", null, h("strong", null, body.text)),
      h("p", { class: "muted" }, `${body.target}. Gelezen: ${body.calls.loket} ${body.calls.loket === 1 ? "vraag" : "vragen"} aan Loket.nl en ${body.calls.afas} aan AFAS; er is niets gewijzigd.`),
      h("p", { class: "muted", "data-basis": body.basis.perAllocation ? "allocation" : "account" }, body.basis.text,
        body.basis.hint ? h("span", { class: "hint" }, ` ${body.basis.hint}`) : null)),
    ...(body.weekly ? [weekly(body.weekly)] : []),
    h("section", { "aria-labelledby": "periods-title" },
      h("h2", { id: "periods-title" }, "Perioden"),
      table([
        { label: "Periode", render: (p) => periodName(body.year, p.period) },
        { label: "Status", render: (p) => badge(...STATUS[p.status]) },
        { label: "Loket debet", render: (p) => euro(p.loket.debit), num: true },
        { label: "AFAS debet", render: (p) => euro(p.afas.debit), num: true },
        { label: "Loonruns", render: (p) => String(p.journalRuns.length), num: true },
        { label: "Toelichting", render: (p) => (p.differences.length
          ? h("a", { href: `#period-${p.period}`, onclick: (e) => { e.preventDefault(); view.querySelector(`#period-${p.period}`)?.scrollIntoView(); view.querySelector(`#period-${p.period} h3`)?.focus(); } }, p.text)
          : p.text) },
      ], body.periods, { caption: `Perioden van ${body.year}`, rowAttrs: (p) => ({ "data-period": String(p.period), "data-status": p.status }) })));

  const red = body.periods.filter((p) => p.differences.length);
  if (red.length) {
    add(view, h("section", { "aria-labelledby": "differences-title" },
      h("h2", { id: "differences-title" }, "Verschillen"),
      red.map((p) => periodSection(body, p, problems))));
  }
}

function periodSection(body, p, problems) {
  return h("section", { id: `period-${p.period}`, class: "period", "aria-labelledby": `period-${p.period}-title` },
    h("h3", { id: `period-${p.period}-title`, tabindex: "-1" }, `Periode ${periodName(body.year, p.period)}`),
    p.differences.map((d) => difference(body, p, d, problems)));
}

function difference(body, p, d, problems) {
  const entries = p.entries.filter((e) => d.entryNumbers.includes(e.entryNumber));
  const journalRun = p.journalRuns.find((r) => r.loketJournalRunId === d.loketJournalRunId);
  return h("article", { class: "notice error difference", "data-kind": d.kind },
    h("p", null, badge("failed", d.title), " ", d.text),
    whatToDo(d.todo),
    h("ul", { class: "downloads" },
      d.links.journalRun
        ? h("li", null, h("a", { href: d.links.journalRun }, `Loonrun ${journalRun ? journalRun.payrollPeriod.replace("-", " - ") : ""} en auditkopie bekijken`))
        : null,
      journalRun && !d.links.journalRun ? h("li", { class: "muted" }, "Van deze loonrun is geen auditkopie bewaard.") : null),
    d.accounts.length ? h("details", { open: "" }, h("summary", null, "Per grootboekrekening"),
      table([
        { label: "Rekening", key: "account" },
        { label: "Kostenplaats", render: (a) => a.costCentre || "—" },
        { label: "Loket debet", render: (a) => euro(a.loketDebit), num: true },
        { label: "AFAS debet", render: (a) => euro(a.afasDebit), num: true },
        { label: "Loket credit", render: (a) => euro(a.loketCredit), num: true },
        { label: "AFAS credit", render: (a) => euro(a.afasCredit), num: true },
      ], d.accounts, { caption: "Verschil per grootboekrekening" })) : null,
    (entries.length ? entries : d.afas && d.kind !== "gone" ? [null] : []).map((e) => afasEntry(e, d)),
    d.loket ? h("details", null, h("summary", null, "Wat Loket journaliseerde"), totalsTable(d.loket, "Loket")) : null);
}

/** How the office's last weekly check ended; a failed one stands out (the e-mail did not go). */
function weekly(w) {
  const text = h("p", { "data-weekly": w.status }, h("strong", null, "Wekelijkse controle: "), w.text);
  return w.status === "done" ? h("div", { class: "muted" }, text) : notice(w.status === "failed" ? "error" : "warning", text);
}

function afasEntry(e, d) {
  const totals = e ? e.totals : d.afas;
  const title = e
    // SB has no journals and its entry number is the reference: name neither there.
    ? `Boeking ${e.entryNumber} in AFAS${e.reference && e.reference !== e.entryNumber ? ` (boekstuknummer ${e.reference})` : ""}${e.journal ? `, dagboek ${e.journal}` : ""}, periode ${e.period} ${e.year}${e.byLoonbrug ? ", door Loonbrug" : ", niet door Loonbrug"}`
    : "De boeking in AFAS";
  return h("details", null, h("summary", null, title), totalsTable(totals, "AFAS"));
}

function totalsTable(totals, side) {
  return table([
    { label: "Rekening", key: "account" },
    { label: "Kostenplaats", render: (a) => a.costCentre || "" },
    { label: "Debet", render: (a) => euro(a.debit), num: true },
    { label: "Credit", render: (a) => euro(a.credit), num: true },
  ], [...totals.accounts, { account: "Totaal", debit: totals.debit, credit: totals.credit }], { caption: `${side}: bedragen per grootboekrekening` });
}
