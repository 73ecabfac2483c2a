// @ts-check
// Configuratie › Client configuraties: the list and the preview of the AFAS entry a Loket journal
// run would become. The add/edit form is clientform.js (with afastarget.js and mappingform.js).
import { ApiError, api } from "./api.js";
import {
  add,
  badge, busy, clearErrors, date, dateTime, empty, field, flash, h, money, notice, pageHeader,
  period, problemNotice, registerLabels, showErrors, table, yesNo, whatToDo,
} from "./ui.js";
import { CRUMBS } from "./clientform.js";

export { form } from "./clientform.js";

registerLabels({ loketJournalRunId: "Loket journaalrun-id" });

function targetText(target, connections) {
  if (target.type === "afas-profit") {
    const c = connections?.find((x) => x.kind === "afas-profit" && x.environment === target.environment);
    const env = c?.details?.environmentName ? `${c.details.environmentName} (${target.environment})` : target.environment;
    return `AFAS Profit ${env} · administratie ${target.administration} · dagboek ${target.journal}`;
  }
  const c = connections?.find((x) => x.kind === "afas-sb" && x.environment === target.environment);
  const env = c?.details?.environmentName && c.details.environmentName !== target.environment ? `${c.details.environmentName} (${target.environment})` : target.environment;
  return `AFAS SB ${env} · administratie ${target.administrationId}`;
}

// -- list --------------------------------------------------------------------------------------------

export async function list(ctx) {
  const { view, session } = ctx;
  add(view, ...pageHeader("Client configuraties", [CRUMBS[0], ["Client configuraties"]]));
  const [answer, connections] = await Promise.all([api.get("/clients"), api.get("/connections")]);
  if (!ctx.alive()) return;
  if (session.isAdmin) add(view, h("div", { class: "toolbar" }, h("a", { class: "button", href: "#/clients/nieuw" }, "Client configuratie toevoegen")));
  if (!answer.clients.length) {
    const loket = connections.connections.some((c) => c.kind === "loket");
    const afas = connections.connections.some((c) => c.kind !== "loket");
    add(view, empty(
      h("p", null, h("strong", null, "Nog geen client configuraties.")),
      h("p", null, "Een client configuratie koppelt een Loket.nl loonadministratie aan een AFAS administratie. Daarna worden de journaalposten elke nacht automatisch overgezet."),
      !loket || !afas ? h("p", null, "Eerst nodig: ", !loket ? "een Loket.nl koppeling" : "", !loket && !afas ? " en " : "", !afas ? "een AFAS koppeling" : "", " — zie ", h("a", { href: "#/koppelingen" }, "Koppelingen"), ".") : null,
      session.isAdmin && loket && afas ? h("p", null, "Klik op 'Client configuratie toevoegen' om te beginnen.") : null));
    return;
  }
  add(view, table([
    { label: "Clientnr.", render: (c) => h("a", { href: `#/clients/${encodeURIComponent(c.clientId)}` }, c.clientId) },
    { label: "Naam", render: (c) => c.name || "—" },
    { label: "Loket.nl administratie", render: (c) => `${c.loketAdministrationName || c.loketPayrollAdministrationId}${c.loketClientNumber ? ` (clientnr. ${c.loketClientNumber})` : ""}` },
    { label: "AFAS omgeving", render: (c) => targetText(c.target, connections.connections) },
    { label: "In synchronisatie", render: (c) => yesNo(c.includeInSync) },
    { label: "Verwerking", render: (c) => (c.mode === "review" ? h("a", { href: "#/approvals" }, "Eerst goedkeuren") : "Automatisch") },
    { label: "Gewijzigd", render: (c) => (c.updatedAt ? `${dateTime(c.updatedAt)}${c.updatedBy ? ` door ${c.updatedBy}` : ""}` : "—") },
    { label: "Acties", render: (c) => h("div", { class: "actions" },
      h("a", { href: `#/clients/${encodeURIComponent(c.clientId)}`, "aria-label": `${session.isAdmin ? "Bewerken" : "Bekijken"}: client ${c.clientId}` }, session.isAdmin ? "Bewerken" : "Bekijken"),
      h("a", { href: `#/voorbeeld?client=${encodeURIComponent(c.clientId)}`, "aria-label": `Voorbeeld journaalpost voor client ${c.clientId}` }, "Voorbeeld"),
      session.isAdmin ? deleteButton(ctx, c) : null) },
  ], answer.clients, { caption: "Client configuraties" }));
}

function deleteButton(ctx, client) {
  const button = h("button", { type: "button", class: "link", "aria-label": `Verwijderen: client ${client.clientId}`, onclick: () => {
    if (!confirm(`Client configuratie ${client.clientId} verwijderen? De geschiedenis van de runs blijft bewaard.`)) return;
    busy(button, async () => {
      try {
        await api.del(`/clients/${encodeURIComponent(client.clientId)}`);
        flash("ok", `Client configuratie ${client.clientId} is verwijderd.`);
        ctx.refresh();
      } catch (error) { ctx.view.prepend(problemNotice(error)); }
    });
  } }, "Verwijderen");
  return button;
}

// -- preview -----------------------------------------------------------------------------------------

export async function preview(ctx) {
  const { view, query } = ctx;
  add(view, ...pageHeader("Voorbeeld journaalpost", [CRUMBS[0], ["Voorbeeld journaalpost"]]));
  const answer = await api.get("/clients");
  if (!ctx.alive()) return;
  add(view, h("p", null, "Bekijk welke journaalpost een Loket-journaalrun in AFAS wordt, met de controles vooraf. Er wordt niets geboekt."));
  if (!answer.clients.length) {
    add(view, empty(h("p", null, "Er zijn nog geen client configuraties. "), h("a", { href: "#/clients" }, "Voeg eerst een client toe")));
    return;
  }
  const client = h("select", null, answer.clients.map((c) => h("option", { value: c.clientId, selected: query.get("client") === c.clientId }, `${c.clientId} – ${c.name || c.loketAdministrationName}`)));
  const run = h("input", { type: "text", spellcheck: "false", autocomplete: "off", value: query.get("run") || "" });
  const show = h("button", { type: "submit" }, "Voorbeeld tonen");
  const result = h("div", { "aria-live": "polite" });
  const formNode = h("form", { class: "panel", novalidate: true },
    h("div", { class: "grid-2" },
      field("Client", client, { field: "clientId" }),
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
  if (query.get("client") && query.get("run")) go();
}

function previewResult(p) {
  const state = p.alreadyBooked
    ? badge("imported", `Al geboekt${p.entryNumber ? ` (journaalpost ${p.entryNumber})` : ""}`)
    : p.postable ? badge("done", "Kan geboekt worden") : badge("failed", "Kan niet geboekt worden");
  const dims = (line) => Object.entries(line.dimensions).map(([axis, code]) => `as ${axis}: ${code}`).join(", ") || "—";
  return h("section", { "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title" }, `Journaalpost voor client ${p.clientId}, periode ${period(p.payrollPeriod)} (volgnr. ${p.sequenceNumber})`),
    h("dl", { class: "facts" },
      h("dt", null, "Status"), h("dd", null, state),
      h("dt", null, "Doel"), h("dd", null, p.targetType === "afas-sb" ? "AFAS SB" : `AFAS Profit, dagboek ${p.journal}`),
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
          whatToDo(f.hint)))))
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
