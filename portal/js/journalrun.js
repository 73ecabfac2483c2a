// @ts-check
// One journal run (loonrun) of a run: its status, the exports (CSV, AFAS JSON) and the audit copy
// (what Loket gave, what Loonbrug built and sent, what AFAS answered), each downloadable.
import { api, download } from "./api.js";
import {
  add, badge, busy, dateTime, date, empty, h, notice, pageHeader, period, problemNotice, table,
} from "./ui.js";

const DOCUMENTS = {
  "loket-journal-run.json": "De journaalrun zoals Loket.nl hem gaf",
  "loket-lines.json": "De journaalregels uit Loket.nl",
  "entry.json": "De journaalpost die Loonbrug opbouwde",
  "afas-request.json": "Wat naar AFAS is verstuurd",
  "findings.json": "De controles vooraf (bevindingen)",
  "afas-response.json": "Het antwoord van AFAS",
};

/** Prepared (awaiting approval), rejected, or failed before the post: afas-request.json is what
 * would have been sent, and nothing was. */
const NOT_SENT = { "afas-request.json": "Wat naar AFAS verstuurd zou worden (niet verstuurd)" };

/** "afas-request-0123456789ab.json": a later version stored next to the first (never replaced). */
function describe(name, sent) {
  const texts = sent ? DOCUMENTS : { ...DOCUMENTS, ...NOT_SENT };
  if (texts[name]) return texts[name];
  const base = Object.keys(texts).find((known) => name.startsWith(known.replace(/\.json$/, "-")));
  return base ? `${texts[base]} (latere versie)` : name;
}

/** Why a loonrun has no "Verzonden" moment, in words (never a bare "—"). */
function notSent(row) {
  if (row.status === "rejected") return "Niet naar AFAS verstuurd: afgewezen";
  if (row.status === "awaiting_approval") return "Nog niet naar AFAS verstuurd: wacht op goedkeuring";
  if (row.status === "skipped") return "Niet naar AFAS verstuurd";
  return "Niet naar AFAS verstuurd";
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1).replace(".", ",")} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1).replace(".", ",")} MB`;
}

/** A download link: a real link to the API file, fetched with the sign-in when clicked. */
function fileLink(href, text, label, report) {
  const link = h("a", { href, download: "", class: "download", "aria-label": label }, text);
  link.addEventListener("click", (e) => {
    e.preventDefault();
    busy(link, async () => {
      report(null);
      try {
        await download(href);
      } catch (error) {
        report(error);
      }
    }, { text: "Bezig met downloaden…" });
  });
  return link;
}

export async function detail(ctx) {
  const { view, params } = ctx;
  const [runId, journalId] = params;
  const runHref = `#/runs/${encodeURIComponent(runId)}`;
  const header = pageHeader("Loonrun", [["Runs overzicht", "#/runs"], ["Run", runHref], ["Loonrun"]]);
  add(view, ...header);
  const [run, clients] = await Promise.all([
    api.get(`/runs/${encodeURIComponent(runId)}`),
    api.get("/clients").then((a) => Object.fromEntries(a.clients.map((c) => [c.clientId, c]))).catch(() => ({})),
  ]);
  if (!ctx.alive()) return;
  const row = run.journalRuns.find((j) => j.loketJournalRunId === journalId);
  if (!row) {
    add(view, notice("error", h("p", null, "Deze loonrun hoort niet bij deze run.")), h("p", null, h("a", { href: runHref }, "Terug naar de run")));
    return;
  }
  const client = clients[row.clientId];
  header[1].textContent = `Loonrun ${period(row.payrollPeriod)} van client ${row.clientId}`;
  const problems = h("div", { "aria-live": "polite" });
  const report = (error) => problems.replaceChildren(...(error ? [problemNotice(error)] : []));

  add(view,
    h("dl", { class: "facts" },
      h("dt", null, "Client"), h("dd", null, `${row.clientId}${client ? ` – ${client.name || client.loketAdministrationName}` : ""}`),
      h("dt", null, "Periode"), h("dd", null, `${period(row.payrollPeriod)} (volgnr. ${row.sequenceNumber})`),
      h("dt", null, "Status"), h("dd", null, badge(row.status, row.statusText),
        row.status === "awaiting_approval" ? [" ", h("a", { href: "#/approvals" }, "Naar Goedkeuren")] : null),
      row.entryNumber ? [h("dt", null, "Journaalpost AFAS"), h("dd", null, row.entryNumber)] : null,
      row.reference ? [h("dt", null, "Boekstuknummer / tracking-id"), h("dd", { class: "mono" }, row.reference)] : null,
      h("dt", null, "AFAS omgeving"), h("dd", null, row.environment || "—"),
      h("dt", null, "Verzonden"), h("dd", null, row.sentAt ? dateTime(row.sentAt) : notSent(row)),
      row.note && row.status !== "imported" ? [h("dt", null, "Toelichting"), h("dd", null, row.note)] : null,
      h("dt", null, "In run"), h("dd", null, h("a", { href: runHref }, run.type === "rerun" ? `Rerun van ${dateTime(run.createdAt)}` : `Nachtelijke run van ${date(run.businessDate || run.createdAt)}`))),
    problems);

  const body = h("div", null, h("p", { class: "loading" }, "De auditkopie wordt geladen…"));
  add(view, body);
  let listed;
  try {
    listed = await api.get(`/runs/${encodeURIComponent(runId)}/journal-runs/${encodeURIComponent(journalId)}/documents`);
  } catch (error) {
    if (!ctx.alive()) return;
    body.replaceChildren(error.status === 404
      ? empty(h("p", null, h("strong", null, "Geen auditkopie in deze run.")), h("p", null, error.detail),
        h("p", null, "Een loonrun die al eerder geboekt was, heeft zijn auditkopie en export bij de run waarin hij geboekt is. Zoek die run op in het ", h("a", { href: "#/runs" }, "Runs overzicht"), "."))
      : problemNotice(error));
    return;
  }
  if (!ctx.alive()) return;
  const what = `loonrun ${period(row.payrollPeriod)} van client ${row.clientId}`;
  // Sent: booked, or a post that AFAS answered (refused). Prepared and rejected ones never were.
  const sent = Boolean(row.sentAt) || row.status === "imported";
  body.replaceChildren(
    h("section", { "aria-labelledby": "exports-title" },
      h("h2", { id: "exports-title" }, "Exporteren"),
      h("p", null, "Voor wie de journaalpost zelf wil controleren of inlezen, bijvoorbeeld als de administratie niet gekoppeld is."),
      h("ul", { class: "downloads" },
        h("li", null, fileLink(listed.exports.csv, "Journaalpost als CSV", `Journaalpost als CSV: ${what}`, report),
          h("span", { class: "muted" }, " · voor Excel: puntkomma's, decimale komma, per regel rekening, omschrijving, kostenplaats, debet en credit")),
        h("li", null, fileLink(listed.exports.json, "AFAS-bestand (JSON)", `AFAS-bestand (JSON): ${what}`, report),
          h("span", { class: "muted" }, " · precies wat Loonbrug naar AFAS stuurt (of zou sturen)")))),
    h("section", { "aria-labelledby": "audit-title" },
      h("h2", { id: "audit-title" }, `Auditkopie (${listed.documents.length} documenten)`),
      h("p", null, sent
        ? "Loonbrug bewaart van elke geboekte, mislukte of klaargezette loonrun onveranderlijk wat Loket.nl gaf, wat naar AFAS ging en wat AFAS antwoordde. Het controlegetal (SHA-256) laat zien dat een document niet is gewijzigd."
        : "Deze loonrun is niet naar AFAS verstuurd. Loonbrug bewaart onveranderlijk wat Loket.nl gaf en de journaalpost die klaarstond. Het controlegetal (SHA-256) laat zien dat een document niet is gewijzigd."),
      table([
        { label: "Document", render: (d) => h("div", null, h("div", null, describe(d.name, sent)), h("div", { class: "muted mono" }, d.name)) },
        { label: "Grootte", render: (d) => size(d.size), num: true },
        { label: "Vastgelegd", render: (d) => dateTime(d.createdAt) },
        { label: "Bewaard tot", render: (d) => (d.retainUntil ? date(d.retainUntil) : "—") },
        { label: "Controlegetal", render: (d) => h("span", { class: "mono", title: d.sha256 }, `${d.sha256.slice(0, 12)}…`) },
        { label: "Downloaden", render: (d) => fileLink(d.href, "Downloaden", `${d.name} downloaden`, report) },
      ], listed.documents, { caption: "Documenten van de auditkopie" })));
}
