// @ts-check
// Runs overzicht, run detail (Loonruns / Meldingen) and Rerun uitvoeren.
import { api, request } from "./api.js";
import {
  add,
  announce, badge, busy, clearErrors, date, dateInput, dateTime, empty, field, flash, h, notice,
  pageHeader, parseDate, period, problemNotice, registerLabels, showErrors, table, whatToDo,
} from "./ui.js";

export const REFRESH_MS = 2500;
const TYPES = { nightly: "Nachtelijk", rerun: "Rerun" };
const LEVELS = { error: "Fout", warning: "Waarschuwing", info: "Informatie" };
const LOKET_ENVIRONMENTS = { test: "Testomgeving Loket", acceptatie: "Acceptatieomgeving Loket", productie: "Loket.nl" };

registerLabels({
  approvedFrom: "Datum goedgekeurd vanaf", approvedTo: "Datum goedgekeurd tot",
  clientId: "Client", limit: "Aantal", continuationToken: "Pagina",
});

export function loketLabel(connections) {
  const loket = (connections || []).find((c) => c.kind === "loket");
  if (!loket) return "Niet gekoppeld";
  const label = loket.details?.loketEnvironment;
  return LOKET_ENVIRONMENTS[label] || (label ? `Loket.nl ${label}` : "Loket.nl");
}

/** The run's badge class: what happened to its loonruns (outcome), else its job status. */
export const statusKind = (run) => run.outcome || run.status;

// -- Runs overzicht ---------------------------------------------------------------------------------

export async function list(ctx) {
  const { view, query, session } = ctx;
  const filters = {
    type: query.get("type") || "",
    clientId: query.get("client") || "",
    limit: query.get("aantal") || "10",
    q: query.get("zoek") || "",
  };
  const pageNumber = Math.max(1, Number(query.get("pagina") || "1") || 1);

  const go = (changes) => {
    const next = new URLSearchParams(query);
    for (const [name, value] of Object.entries(changes)) {
      if (value) next.set(name, value); else next.delete(name);
    }
    location.hash = `#/runs${next.toString() ? "?" + next : ""}`;
  };

  const toolbar = h("div", { class: "toolbar" });
  const body = h("div", null, h("p", { class: "loading" }, "Runs worden geladen…"));
  add(view, ...pageHeader("Runs overzicht", [["Runs overzicht"]]), toolbar, body);

  const typeSelect = h("select", { onchange: () => go({ type: typeSelect.value, pagina: "" }) },
    h("option", { value: "" }, "Alle"),
    Object.entries(TYPES).map(([v, text]) => h("option", { value: v, selected: filters.type === v }, text)));
  const clientSelect = h("select", { onchange: () => go({ client: clientSelect.value, pagina: "" }) },
    h("option", { value: "" }, "Alle clients"),
    filters.clientId ? h("option", { value: filters.clientId, selected: true }, filters.clientId) : null);
  const limitSelect = h("select", { onchange: () => go({ aantal: limitSelect.value, pagina: "" }) },
    ["10", "20", "50", "100"].map((n) => h("option", { value: n, selected: filters.limit === n }, n)));
  // Zoeken: every word must appear in the row as shown ("05-08-2022 13:58", "Rerun", "4711").
  let typing = null;
  const search = h("input", { type: "search", value: filters.q, maxlength: "100", autocomplete: "off",
    placeholder: "Clientnr., datum, type of status",
    title: "Zoekt in wat de tabel toont: clientnummer, datum (05-08-2022), Nachtelijk / Rerun, status",
    oninput: () => { clearTimeout(typing); typing = setTimeout(() => go({ zoek: search.value.trim(), pagina: "" }), 400); },
    onkeydown: (e) => { if (e.key === "Enter") { clearTimeout(typing); go({ zoek: search.value.trim(), pagina: "" }); } },
  });
  add(toolbar,
    field("Type", typeSelect), field("Clientnr.", clientSelect), field("Aantal per pagina", limitSelect),
    field("Zoeken", search),
    h("span", { class: "spacer" }),
    session.isAdmin ? h("a", { class: "button", href: "#/rerun" }, "Rerun uitvoeren") : null,
    session.isAdmin && ctx.config.devSignIn ? nightlyButton(ctx) : null,
  );
  // The client filter fills in after the table: it must not hold up (or compete with) the runs.
  const fillClients = () => api.get("/clients").then((answer) => {
    if (!ctx.alive()) return;
    for (const c of answer.clients) {
      if (c.clientId !== filters.clientId) add(clientSelect, h("option", { value: c.clientId }, c.clientId));
    }
  }).catch(() => {});

  let timer = null;
  const load = async (quiet) => {
    const [page, connections] = await Promise.all([
      api.get("/runs", { type: filters.type, clientId: filters.clientId, limit: filters.limit, page: String(pageNumber), q: filters.q }),
      api.get("/connections"),
    ]);
    if (!ctx.alive()) return;
    body.replaceChildren(runsTable(page, connections.connections, filters, go));
    performance.mark("loonbrug:runs-rendered");
    const running = page.runs.some((r) => r.status === "running");
    clearTimeout(timer);
    if (running) timer = setTimeout(() => load(true).catch(() => {}), REFRESH_MS);
    if (quiet && !running) {
      announce("De runs zijn bijgewerkt.");
      window.dispatchEvent(new CustomEvent("loonbrug:approvals-changed")); // a run may have prepared some
    }
  };
  try {
    await load(false);
  } catch (error) {
    body.replaceChildren(problemNotice(error));
  }
  fillClients();
  return () => { clearTimeout(timer); clearTimeout(typing); };
}

/** "1 tot 10 van 57 resultaten (gefilterd uit 60 resultaten)", as the manual's overview says.
 * A search that read only the newest runs says so: "(gezocht in de nieuwste 500 van 1000 runs)". */
export function rangeText(page, limit, shown, total, unfiltered, searched) {
  const from = searched ? `gezocht in de nieuwste ${searched} van ${unfiltered} runs` : `gefilterd uit ${unfiltered} resultaten`;
  if (!total) return unfiltered ? `0 resultaten (${from})` : "0 resultaten";
  const first = (page - 1) * limit + 1;
  const text = `${first} tot ${first + shown - 1} van ${total} resultaten`;
  return unfiltered && (searched || unfiltered !== total) ? `${text} (${from})` : text;
}

/** Page numbers around the current one: [1, "…", 4, 5, 6, "…", 12]. */
export function pageNumbers(current, pages) {
  const wanted = new Set([1, pages, current - 1, current, current + 1].filter((n) => n >= 1 && n <= pages));
  const sorted = [...wanted].sort((a, b) => a - b);
  const out = [];
  sorted.forEach((n, i) => {
    if (i && n - sorted[i - 1] > 1) out.push("…");
    out.push(n);
  });
  return out;
}

function runsTable(page, connections, filters, go) {
  const { runs } = page;
  const current = page.page || 1;
  const limit = Number(filters.limit);
  if (!runs.length) {
    if (filters.q) return empty(h("p", null, `Geen runs gevonden met '${filters.q}'${page.searched ? ` in de nieuwste ${page.searched} runs` : ""}. `, h("a", { href: "#/runs" }, "Alle runs tonen")));
    if (filters.type || filters.clientId) return empty(h("p", null, "Geen runs gevonden met deze filters. Kies 'Alle' om alle runs te zien."));
    return empty(
      h("p", null, h("strong", null, "Er zijn nog geen runs.")),
      h("p", null, "Elke nacht worden de journaalposten van Loket.nl automatisch overgezet naar AFAS voor de clients die u hebt ingesteld. "
        + "Nog niets ingesteld? Koppel eerst Loket.nl en AFAS via ", h("a", { href: "#/koppelingen" }, "Koppelingen"),
        " en voeg daarna clients toe via ", h("a", { href: "#/clients" }, "Client configuraties"), "."),
      h("p", null, "Wilt u niet wachten op de nacht? Start een rerun via 'Rerun uitvoeren'."));
  }
  const loket = loketLabel(connections);
  const running = runs.some((r) => r.status === "running");
  const pages = page.pages || 1;
  return h("div", null,
    table([
      { label: "Type", render: (r) => h("a", { href: `#/runs/${encodeURIComponent(r.runId)}` }, TYPES[r.type] || r.type) },
      { label: "Clientnr.", render: (r) => r.clientId || "Alle clients" },
      { label: "Loket.nl omgeving", render: () => loket },
      { label: "Aangemaakt", render: (r) => dateTime(r.createdAt) },
      { label: "Datum vanaf", render: (r) => (r.approvedFrom ? date(r.approvedFrom) : "—") },
      { label: "Datum tot", render: (r) => (r.approvedTo ? date(r.approvedTo) : "—") },
      { label: "Status", render: (r) => badge(statusKind(r), r.statusText) },
    ], runs, {
      caption: "Runs, nieuwste eerst",
      rowAttrs: (r) => ({
        class: "clickable", "data-run-id": r.runId,
        onclick: (e) => { if (!e.target.closest("a")) location.hash = `#/runs/${encodeURIComponent(r.runId)}`; },
      }),
    }),
    h("div", { class: "pager" },
      h("p", { class: "range", "aria-live": "polite" }, rangeText(current, limit, runs.length, page.total, page.unfilteredTotal, page.searched)),
      h("nav", { "aria-label": "Pagina's", class: "pages" },
        h("button", { type: "button", class: "secondary", disabled: current <= 1, onclick: () => go({ pagina: String(current - 1) }) }, "Vorige"),
        pageNumbers(current, pages).map((n) => (n === "…"
          ? h("span", { class: "gap", "aria-hidden": "true" }, "…")
          : h("button", { type: "button", class: n === current ? "page current" : "page secondary",
            "aria-current": n === current ? "page" : null, "aria-label": `Pagina ${n}`,
            onclick: () => go({ pagina: String(n) }) }, String(n)))),
        h("button", { type: "button", class: "secondary", disabled: current >= pages, onclick: () => go({ pagina: String(current + 1) }) }, "Volgende"))),
    running ? notice("info", h("p", null, "Synchronisatie wordt uitgevoerd. Dit kan enkele minuten duren; deze pagina ververst vanzelf.")) : null,
    h("p", { class: "muted" }, "Klik op een regel om de details van die run te bekijken."),
  );
}

function nightlyButton(ctx) {
  // Development only: the local host runs a timer function on POST /admin/functions/{name}.
  const button = h("button", { type: "button", class: "secondary", onclick: () => busy(button, async () => {
    const answer = await fetch("/admin/functions/nightly_sync", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"input":""}' }).catch(() => null);
    if (answer && answer.status === 202) {
      announce("De nachtelijke run is gestart.");
      setTimeout(() => ctx.alive() && ctx.refresh(), 800);
    } else {
      alert("De nachtelijke run kon niet worden gestart (alleen op de lokale host).");
    }
  }) }, "Nachtelijke run nu starten (ontwikkeling)");
  return button;
}

// -- Run detail ---------------------------------------------------------------------------------------

export async function detail(ctx) {
  const { view, params, query } = ctx;
  const runId = params[0];
  let tab = query.get("tab") === "meldingen" ? "meldingen" : "loonruns";
  let timer = null;
  const header = pageHeader("Run", [["Runs overzicht", "#/runs"], ["Loonruns"]]);
  const summary = h("div", null, h("p", { class: "loading" }, "De run wordt geladen…"));
  const tabs = h("div");
  add(view, ...header, summary, tabs);
  const clients = api.get("/clients").then((a) => Object.fromEntries(a.clients.map((c) => [c.clientId, c]))).catch(() => ({}));

  const load = async () => {
    const [run, byId] = await Promise.all([api.get(`/runs/${encodeURIComponent(runId)}`), clients]);
    if (!ctx.alive()) return;
    header[1].textContent = runTitle(run);
    summary.replaceChildren(runSummary(run, byId));
    const focused = document.activeElement && tabs.contains(document.activeElement) ? document.activeElement.id : null;
    tabs.replaceChildren(...tabPanels(run, byId, tab, (t) => { tab = t; }));
    if (focused) document.getElementById(focused)?.focus();
    clearTimeout(timer);
    if (run.status === "running") timer = setTimeout(() => load().catch(() => {}), REFRESH_MS);
  };
  try {
    await load();
  } catch (error) {
    summary.replaceChildren(problemNotice(error), h("p", null, h("a", { href: "#/runs" }, "Terug naar het Runs overzicht")));
  }
  return () => clearTimeout(timer);
}

function runTitle(run) {
  if (run.type === "rerun") {
    const who = run.clientId ? `client ${run.clientId}` : "alle clients";
    const window = run.approvedTo && run.approvedTo !== run.approvedFrom
      ? `${date(run.approvedFrom)} t/m ${date(run.approvedTo)}` : date(run.approvedFrom);
    return `Rerun voor ${who} (${window})`;
  }
  return `Nachtelijke run van ${date(run.businessDate || run.createdAt)}`;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** What happened to the run's loonruns, in sentences (the API counts them: journalRuns*). */
function runSummary(run, byId) {
  const total = run.journalRunsTotal ?? run.journalRuns.length;
  const imported = run.journalRunsImported ?? 0;
  const failed = run.journalRunsFailed ?? 0;
  const awaiting = run.journalRunsAwaitingApproval ?? 0;
  const rejected = run.journalRunsRejected ?? 0;
  const targets = new Set(run.journalRuns.map((j) => byId[j.clientId]?.target?.type).filter(Boolean));
  const where = targets.size === 1 ? (targets.has("afas-sb") ? "AFAS SB" : "AFAS Profit") : "AFAS";
  const others = [
    failed ? `${failed} mislukt` : null,
    awaiting ? `${awaiting} ${awaiting === 1 ? "wacht" : "wachten"} op goedkeuring` : null,
    rejected ? `${rejected} afgewezen` : null,
  ].filter(Boolean);
  const counted = `${imported} van de ${plural(total, "loonrun", "loonruns")} geïmporteerd in ${where}${others.length ? `; ${others.join(", ")}` : ""}.`;
  const outcome = run.outcome || run.status;
  let summary = null;
  if (outcome === "running") {
    summary = notice("info", h("p", null, "Synchronisatie wordt uitgevoerd. Dit kan enkele minuten duren; deze pagina ververst vanzelf."));
  } else if (outcome === "nothing_to_do") {
    summary = notice("info", h("p", null, h("strong", null, "Er was niets te boeken. "),
      "Loket had voor de clients in deze run geen nieuwe journaalruns. Onder Meldingen staat per client waarom."));
  } else if (outcome === "failed") {
    summary = notice("warning",
      total ? h("p", null, counted) : null,
      run.clientsFailed ? h("p", null, `${plural(run.clientsFailed, "client is", "clients zijn")} niet verwerkt.`) : null,
      !total && !run.clientsFailed ? h("p", null, "De run kon niet worden uitgevoerd.") : null,
      h("p", null, "Bekijk het tabblad Meldingen voor wat er misging en wat u kunt doen."));
  } else if (outcome === "awaiting_approval") {
    summary = notice("warning", h("p", null, counted),
      h("p", null, `${awaiting === 1 ? "Die loonrun wordt" : "Die loonruns worden"} pas geboekt als een beheerder ${awaiting === 1 ? "hem" : "ze"} goedkeurt. `,
        h("a", { href: "#/approvals" }, "Naar Goedkeuren")));
  } else {
    summary = notice(imported ? "ok" : "warning", h("p", null, imported === total && !rejected
      ? `${imported} van de ${plural(total, "loonrun", "loonruns")} succesvol geïmporteerd in ${where}.` : counted));
  }
  return h("div", null,
    h("dl", { class: "facts" },
      h("dt", null, "Status"), h("dd", null, badge(statusKind(run), run.statusText)),
      h("dt", null, "Aangemaakt"), h("dd", null, `${dateTime(run.createdAt)} door ${run.createdBy === "system" ? "Loonbrug (automatisch)" : run.createdBy}`),
      h("dt", null, "Clients"), h("dd", null, `${run.jobsDone} van ${run.jobsTotal} verwerkt${run.jobsFailed ? `, ${run.jobsFailed} met fouten` : ""}`)),
    summary,
    checklists(run));
}

const CHECK_MARKS = { ok: "✓", failed: "✗", unknown: "?" };
const CHECK_WORDS = { ok: "in orde", failed: "niet in orde", unknown: "niet te controleren" };

/** The manual's three checks in Loket (Verloning, Journaal, Loonaangifte), per client that had
 * nothing to book, each with what to do in Loket. */
function checklists(run) {
  const withChecks = run.messages.filter((m) => m.checks && m.checks.length);
  if (!withChecks.length) return null;
  return h("section", { class: "checks", "aria-labelledby": "checks-title" },
    h("h2", { id: "checks-title" }, "Niets te boeken: controleer in Loket"),
    h("p", null, "Komen er geen journaalposten binnen? Dan moet in Loket bij alle drie een groen vinkje staan."),
    withChecks.map((m) => h("div", { class: "card checklist" },
      h("h3", null, `Client ${m.clientId}`),
      h("ul", null, m.checks.map((c) => h("li", { class: `check ${c.state}` },
        h("span", { class: "mark", "aria-hidden": "true" }, CHECK_MARKS[c.state] || "?"),
        h("div", null,
          h("p", null, h("strong", null, c.name), h("span", { class: "visually-hidden" }, `: ${CHECK_WORDS[c.state] || ""}`), " ", c.text),
          whatToDo(c.todo))))))));
}

function tabPanels(run, byId, selected, remember) {
  /** @type {Array<[string, string, () => HTMLElement]>} */
  const defs = [
    ["loonruns", "Loonruns", () => journalRunsTable(run, byId)],
    ["meldingen", `Meldingen (${run.messages.length})`, () => messagesList(run)],
  ];
  const buttons = [];
  const panels = [];
  const select = (name, focus) => {
    remember(name);
    defs.forEach(([key], i) => {
      const on = key === name;
      buttons[i].setAttribute("aria-selected", String(on));
      buttons[i].tabIndex = on ? 0 : -1;
      panels[i].hidden = !on;
      if (on && focus) buttons[i].focus();
    });
  };
  defs.forEach(([key, label, content], i) => {
    buttons.push(h("button", {
      type: "button", role: "tab", id: `tab-${key}`, "aria-controls": `panel-${key}`,
      onclick: () => select(key, false),
      onkeydown: (e) => {
        const moves = { ArrowRight: 1, ArrowLeft: -1 };
        if (e.key in moves) { e.preventDefault(); select(defs[(i + moves[e.key] + defs.length) % defs.length][0], true); }
        if (e.key === "Home") { e.preventDefault(); select(defs[0][0], true); }
        if (e.key === "End") { e.preventDefault(); select(defs[defs.length - 1][0], true); }
      },
    }, label));
    panels.push(h("div", { role: "tabpanel", id: `panel-${key}`, "aria-labelledby": `tab-${key}`, tabindex: "0" }, content()));
  });
  const list = h("div", { role: "tablist", "aria-label": "Details van de run" }, buttons);
  select(selected, false);
  return [list, ...panels];
}

function journalRunsTable(run, byId) {
  if (!run.journalRuns.length) {
    return empty(h("p", null, run.status === "running"
      ? "Er zijn nog geen loonruns verwerkt; de run wordt uitgevoerd."
      : "Deze run heeft geen loonruns verwerkt. Kijk bij Meldingen waarom (bijvoorbeeld: nog niet goedgekeurd in Loket.nl)."));
  }
  return table([
    { label: "Clientnr.", key: "clientId" },
    { label: "Loket.nl", render: (j) => byId[j.clientId]?.loketAdministrationName || "—" },
    { label: "Loonrun", render: (j) => loonrun(j.payrollPeriod) },
    { label: "Periode", render: (j) => period(j.payrollPeriod) },
    { label: "Volgnr.", key: "sequenceNumber", num: true },
    { label: "Datum verzonden", render: (j) => (j.sentAt ? dateTime(j.sentAt) : "—") },
    { label: "AFAS omgeving", key: "environment" },
    { label: "Status", render: (j) => h("div", null, badge(j.status, j.statusText),
      j.entryNumber ? h("div", { class: "muted" }, `Journaalpost ${j.entryNumber}`) : null,
      j.status === "awaiting_approval" ? h("div", null, h("a", { href: "#/approvals", "aria-label": `Naar Goedkeuren: client ${j.clientId}, periode ${period(j.payrollPeriod)}` }, "Naar Goedkeuren")) : null,
      j.status !== "imported" && j.note ? h("div", { class: "muted" }, j.note) : null) },
    { label: "Voorbeeld", render: (j) => h("a", { href: `#/voorbeeld?client=${encodeURIComponent(j.clientId)}&run=${encodeURIComponent(j.loketJournalRunId)}` }, "Bekijk boeking") },
    { label: "Auditkopie", render: (j) => (hasAudit(j)
      ? h("a", { href: `#/runs/${encodeURIComponent(run.runId)}/loonruns/${encodeURIComponent(j.loketJournalRunId)}`, "aria-label": `Documenten en export: client ${j.clientId}, periode ${period(j.payrollPeriod)}` }, "Documenten en export")
      : "—") },
  ], run.journalRuns, { caption: "Loonruns van deze run" });
}

/** Booked, failed, prepared and rejected journal runs have an audit copy in their run. */
function hasAudit(j) {
  return j.status !== "skipped";
}

/** The payroll run as Loket lists it: year and period number ("2020-1" → "20201"). */
export function loonrun(payrollPeriod) {
  const [year, number] = (payrollPeriod || "").split("-");
  return number ? `${year}${number}` : payrollPeriod || "—";
}

function messagesList(run) {
  if (!run.messages.length) return empty(h("p", null, "Geen meldingen bij deze run."));
  return h("ul", { class: "messages" }, run.messages.map((m) =>
    h("li", { class: m.level },
      h("div", { class: "meta" }, badge(m.level, LEVELS[m.level] || m.level), " ", dateTime(m.at), m.clientId ? ` · client ${m.clientId}` : ""),
      h("p", { class: "text" }, m.text),
      whatToDo(m.hint))));
}

// -- Rerun uitvoeren ----------------------------------------------------------------------------------

export async function rerun(ctx) {
  const { view, session, query } = ctx;
  add(view, ...pageHeader("Rerun uitvoeren", [["Runs overzicht", "#/runs"], ["Rerun uitvoeren"]]));
  if (!session.isAdmin) {
    add(view, notice("warning", h("p", null, "Alleen een beheerder (rol Loonbrug-beheerder) kan een rerun starten. U kunt de runs wel bekijken.")));
    return;
  }
  const [connections, clients] = await Promise.all([api.get("/connections"), api.get("/clients")]);
  if (!ctx.alive()) return;
  const loket = connections.connections.find((c) => c.kind === "loket");
  add(view, 
    h("p", null, "Synchroniseer journaalposten met terugwerkende kracht, of test zo uw koppeling. De koppeling haalt op basis van de 'Datum goedgekeurd' in Loket.nl de journaalposten op: alle journaalposten waarvan de 'Datum goedgekeurd' binnen de ingevoerde periode valt worden meegenomen."),
    h("p", null, "Wanneer u de client leeg laat, worden alle client configuraties die u hebt aangemaakt meegenomen. Journaalposten die al geboekt zijn, worden niet nog eens geboekt."));
  if (!loket) {
    add(view, notice("warning", h("p", null, "Loket.nl is nog niet gekoppeld. "), h("a", { href: "#/koppelingen/loket" }, "Koppel eerst Loket.nl")));
  }
  const client = h("select", null, h("option", { value: "" }, "Alle client configuraties"),
    clients.clients.map((c) => h("option", { value: c.clientId, selected: query.get("client") === c.clientId },
      `${c.clientId} – ${c.name || c.loketAdministrationName || ""}`)));
  const from = dateInput({ required: true });
  const to = dateInput({ required: true });
  const summary = h("div");
  const save = h("button", { type: "submit" }, "Opslaan");
  const form = h("form", { class: "panel", novalidate: true },
    summary,
    h("div", { class: "field" }, h("span", { class: "label", id: "loket-env" }, "Loket.nl omgeving"), h("p", { "aria-labelledby": "loket-env" }, loketLabel(connections.connections))),
    field("Client (optioneel)", client, { field: "clientId" }),
    h("div", { class: "grid-2" },
      field("Datum goedgekeurd vanaf", from, { field: "approvedFrom" }),
      field("Datum goedgekeurd tot", to, { field: "approvedTo" })),
    h("div", { class: "actions" }, save, h("a", { class: "button secondary", href: "#/runs" }, "Annuleren")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, async () => {
      clearErrors(form);
      summary.replaceChildren();
      const missing = [];
      const dates = { approvedFrom: from, approvedTo: to };
      const iso = {};
      for (const [name, input] of Object.entries(dates)) {
        iso[name] = parseDate(input.value);
        if (!input.value.trim()) missing.push({ field: name, detail: "is verplicht" });
        else if (!iso[name]) missing.push({ field: name, detail: "vul de datum in als dd-mm-jjjj" });
      }
      if (missing.length) {
        showErrors(form, missing);
        summary.replaceChildren(notice("error", h("p", null, "Vul beide datums in als dd-mm-jjjj.")));
        /** @type {HTMLElement | null} */ (form.querySelector("[aria-invalid]"))?.focus();
        return;
      }
      try {
        const body = { approvedFrom: iso.approvedFrom, approvedTo: iso.approvedTo };
        if (client.value) body.clientId = client.value;
        const started = await request("POST", "/reruns", { body });
        const n = started.data.jobsTotal;
        flash("ok", `De rerun is gestart (${n} client${n === 1 ? "" : "s"}). Hij verschijnt hieronder met de status 'Wordt uitgevoerd'.`);
        location.hash = "#/runs";
      } catch (error) {
        const unplaced = showErrors(form, error.errors);
        summary.replaceChildren(problemNotice(error, unplaced));
        summary.querySelector(".notice")?.setAttribute("tabindex", "-1");
        /** @type {HTMLElement | null} */ (summary.querySelector(".notice"))?.focus();
      }
    });
  });
  add(view, form);
}
