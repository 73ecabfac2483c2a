// @ts-check
// Goedkeuren: journal runs of clients in review mode ("Eerst goedkeuren") wait here until an admin
// approves (Loonbrug books them, once) or rejects them (with a reason; optionally marked failed
// in Loket). Readers see the list only.
import { request } from "./api.js";
import {
  add, announce, badge, busy, clearErrors, dateTime, empty, field, h, money, nextId, notice,
  pageHeader, period, problemNotice, registerLabels, showErrors, whatToDo,
} from "./ui.js";

registerLabels({ reason: "Reden", markFailedInLoket: "Markeer in Loket als mislukt" });

/** "administratie 1 (O12345AA)" → "AFAS Profit administratie 1 (O12345AA)"; SB labels say it. */
const where = (item) => (item.target.startsWith("AFAS") ? item.target : `AFAS Profit ${item.target}`);
const isSb = (item) => item.target.startsWith("AFAS SB");

const changed = () => window.dispatchEvent(new CustomEvent("loonbrug:approvals-changed"));

export async function list(ctx) {
  const { view, session } = ctx;
  add(view, ...pageHeader("Goedkeuren", [["Goedkeuren"]]));
  const outcome = h("div", { class: "outcome" });
  const body = h("div", null, h("p", { class: "loading" }, "De journaalposten worden geladen…"));
  add(view,
    h("p", null, "Voor clients met de verwerking 'Eerst goedkeuren' zet Loonbrug de journaalpost klaar en boekt hem pas in AFAS als u hem goedkeurt. Controleer de bedragen en de waarschuwingen; keur daarna goed of wijs af."),
    outcome, body);

  const clients = request("GET", "/clients")
    .then((r) => Object.fromEntries(r.data.clients.map((c) => [c.clientId, c])))
    .catch(() => ({}));

  const load = async () => {
    const [answer, byId] = await Promise.all([request("GET", "/approvals"), clients]);
    if (!ctx.alive()) return;
    body.replaceChildren(items(ctx, answer.data.approvals, byId, { session, outcome, reload }));
  };
  const reload = async () => {
    try { await load(); } catch (error) { body.replaceChildren(problemNotice(error)); }
    changed();
  };
  try {
    await load();
  } catch (error) {
    body.replaceChildren(problemNotice(error));
  }
}

function items(ctx, approvals, byId, deps) {
  if (!approvals.length) {
    return empty(
      h("p", null, h("strong", null, "Er wacht niets op goedkeuring.")),
      h("p", null, "Journaalposten van clients met de verwerking 'Eerst goedkeuren' verschijnen hier na de nachtelijke run of een rerun. Clients met 'Automatisch boeken' worden meteen geboekt."),
      h("p", null, "Wilt u de journaalposten van een client eerst zelf bekijken? Kies dan bij die client in ",
        h("a", { href: "#/clients" }, "Client configuraties"), " onder Verwerking voor 'Eerst goedkeuren'."));
  }
  // Per client, then per period (the API sorts by client and sequence number).
  const groups = new Map();
  for (const item of approvals) {
    if (!groups.has(item.clientId)) groups.set(item.clientId, []);
    groups.get(item.clientId).push(item);
  }
  const total = approvals.length;
  return h("div", null,
    h("p", { class: "muted" }, `${total} ${total === 1 ? "journaalpost wacht" : "journaalposten wachten"} op goedkeuring.`),
    [...groups].map(([clientId, list]) => {
      const client = byId[clientId];
      const name = client?.name || client?.loketAdministrationName || "";
      const id = nextId("client");
      return h("section", { class: "approval-group", "aria-labelledby": id },
        h("h2", { id }, `Client ${clientId}${name ? ` – ${name}` : ""}`),
        list.map((item) => card(ctx, item, deps)));
    }));
}

function card(ctx, item, { session, outcome, reload }) {
  const id = nextId("item");
  const what = `client ${item.clientId}, periode ${period(item.payrollPeriod)}`;
  const balanced = item.totalDebit === item.totalCredit;
  const node = h("article", { class: "card approval", "aria-labelledby": id, dataset: { approvalId: item.approvalId } },
    h("h3", { id }, `Periode ${period(item.payrollPeriod)} · volgnr. ${item.sequenceNumber}`),
    h("dl", { class: "facts" },
      h("dt", null, "Status"), h("dd", null, badge("awaiting_approval", "Wacht op goedkeuring")),
      h("dt", null, "Boeken in"), h("dd", null, where(item)),
      h("dt", null, "Omschrijving"), h("dd", null, item.description || "—"),
      h("dt", null, isSb(item) ? "Tracking-id" : "Boekstuknummer"), h("dd", { class: "mono" }, item.reference),
      h("dt", null, "Regels"), h("dd", null, String(item.lineCount)),
      h("dt", null, "Totaal debet"), h("dd", { class: "amount" }, money(item.totalDebit)),
      h("dt", null, "Totaal credit"), h("dd", { class: "amount" }, money(item.totalCredit), balanced ? "" : " (niet in balans)"),
      h("dt", null, "Voorbereid"), h("dd", null, dateTime(item.preparedAt))),
    item.findings.length
      ? h("div", null,
        h("h4", null, `Waarschuwingen (${item.findings.length})`),
        h("ul", { class: "messages" }, item.findings.map((f) => h("li", { class: "warning" },
          h("p", { class: "text" }, f.text),
          whatToDo(f.hint)))))
      : h("p", { class: "muted" }, "Geen waarschuwingen uit de controle vooraf."),
    h("p", { class: "links" },
      h("a", { href: `#/voorbeeld?client=${encodeURIComponent(item.clientId)}&run=${encodeURIComponent(item.loketJournalRunId)}`, "aria-label": `Bekijk de boeking: ${what}` }, "Bekijk de boeking"),
      h("a", { href: `#/runs/${encodeURIComponent(item.runId)}/loonruns/${encodeURIComponent(item.loketJournalRunId)}`, "aria-label": `Auditkopie en export: ${what}` }, "Auditkopie en export"),
      h("a", { href: `#/runs/${encodeURIComponent(item.runId)}`, "aria-label": `Bekijk de run: ${what}` }, "Bekijk de run")));
  if (!session.isAdmin) {
    add(node, h("p", { class: "muted" }, "Alleen een beheerder (rol Loonbrug-beheerder) kan goedkeuren of afwijzen."));
    return node;
  }

  const show = (kind, ...content) => {
    const box = notice(kind, ...content);
    box.tabIndex = -1;
    outcome.replaceChildren(box);
    box.focus();
    announce(box.textContent);
  };
  const failed = async (error, verb) => {
    const reloads = [409, 412, 404].includes(error.status);
    show(error.status === 503 ? "warning" : "error",
      h("p", null, h("strong", null, `${verb} van ${what} is niet gelukt. `), error.detail),
      whatToDo(error.hint),
      reloads ? h("p", null, "De lijst hieronder is opnieuw geladen met de actuele stand. Controleer de journaalpost en beslis opnieuw.") : null);
    if (reloads) await reload();
  };

  const approve = h("button", { type: "button", "aria-label": `Goedkeuren: ${what}`, onclick: async () => {
    if (!(await confirmApproval(item, what))) { approve.focus(); return; }
    await busy(approve, async () => {
    try {
      const answer = await request("POST", `/approvals/${encodeURIComponent(item.approvalId)}/approve`, { headers: { "If-Match": item.etag } });
      const done = answer.data;
      const run = h("a", { href: `#/runs/${encodeURIComponent(done.runId)}` }, "Bekijk de run");
      if (done.state === "approved") {
        show("ok", h("p", null, `De journaalpost van ${what} is goedgekeurd en geboekt in ${where(done)}${done.entryNumber ? ` (journaalpost ${done.entryNumber})` : ""}.`),
          h("p", null, run));
      } else {
        show("error", h("p", null, `De journaalpost van ${what} is goedgekeurd, maar AFAS heeft hem niet geboekt.`),
          h("p", null, "In de run staat wat AFAS meldde en wat u kunt doen. ", run));
      }
      await reload();
    } catch (error) {
      await failed(error, "Goedkeuren");
    }
    });
  } }, "Goedkeuren");

  // Afwijzen: a small form with the reason and whether Loket should say "verwerking mislukt".
  const formId = nextId("afwijzen");
  const reason = h("textarea", { rows: "3", maxlength: "1000", required: true, class: "plain" });
  const mark = h("input", { type: "checkbox", id: nextId("markeer") });
  const confirmButton = h("button", { type: "submit", class: "danger" }, "Afwijzen bevestigen");
  const summary = h("div");
  const form = h("form", { class: "panel reject", id: formId, novalidate: true, hidden: true, "aria-label": `Afwijzen: ${what}` },
    summary,
    field("Reden", reason, { field: "reason", help: "Bijvoorbeeld: verkeerde kostenplaats. De reden komt in de run en, als u dat kiest, in Loket." }),
    h("div", { class: "field check", dataset: { field: "markFailedInLoket" } },
      mark, h("label", { for: mark.id }, "Markeer in Loket als mislukt"),
      h("p", { class: "help", id: `${mark.id}-help` }, "Loket zet de journaalrun dan op 'Verwerking mislukt' met uw reden. Laat dit uit als de journaalrun in Loket klaar moet blijven staan.")),
    h("div", { class: "actions" }, confirmButton,
      h("button", { type: "button", class: "secondary", onclick: () => toggle(false) }, "Annuleren")));
  mark.setAttribute("aria-describedby", `${mark.id}-help`);
  const reject = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": formId, "aria-label": `Afwijzen: ${what}`,
    onclick: () => toggle(form.hidden) }, "Afwijzen");
  const toggle = (open) => {
    form.hidden = !open;
    reject.setAttribute("aria-expanded", String(open));
    if (open) reason.focus(); else reject.focus();
  };
  form.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); toggle(false); } });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(confirmButton, async () => {
      clearErrors(form);
      summary.replaceChildren();
      if (reason.value.trim().length < 3) {
        showErrors(form, [{ field: "reason", detail: "Geef een reden op (minimaal 3 tekens)." }]);
        reason.focus();
        return;
      }
      try {
        await request("POST", `/approvals/${encodeURIComponent(item.approvalId)}/reject`, {
          body: { reason: reason.value.trim(), markFailedInLoket: mark.checked },
          headers: { "If-Match": item.etag },
        });
        show("ok", h("p", null, `De journaalpost van ${what} is afgewezen${mark.checked ? " en in Loket gemarkeerd als mislukt" : ""}. Hij wordt niet geboekt.`),
          h("p", null, h("a", { href: `#/runs/${encodeURIComponent(item.runId)}` }, "Bekijk de run")));
        await reload();
      } catch (error) {
        if (error.status === 422) {
          const unplaced = showErrors(form, error.errors);
          summary.replaceChildren(problemNotice(error, unplaced));
          /** @type {HTMLElement | null} */ (form.querySelector("[aria-invalid]"))?.focus();
        } else {
          await failed(error, "Afwijzen");
        }
      }
    });
  });
  add(node, h("div", { class: "actions" }, approve, reject), form);
  return node;
}

/** Goedkeuren books for real: ask first, with the amount and the AFAS administration. Answers
 * true when the admin confirms ("Ja, boeken"); Annuleren, Escape or closing answer false. */
export function confirmApproval(item, what) {
  return new Promise((resolve) => {
    const title = nextId("bevestig");
    const yes = h("button", { type: "button", value: "ja" }, "Ja, boeken in AFAS");
    const no = h("button", { type: "button", class: "secondary", value: "nee" }, "Annuleren");
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": title },
      h("h2", { id: title }, "Journaalpost goedkeuren en boeken?"),
      h("p", null, `De journaalpost van ${what} wordt nu geboekt. Dat kan in Loonbrug niet ongedaan worden gemaakt.`),
      h("dl", { class: "facts" },
        h("dt", null, "Boeken in"), h("dd", null, h("strong", null, where(item))),
        h("dt", null, "Bedrag"), h("dd", { class: "amount" }, h("strong", null, `€ ${money(item.totalDebit)}`), " debet en credit",
          item.totalDebit === item.totalCredit ? "" : ` (credit € ${money(item.totalCredit)}: niet in balans)`),
        h("dt", null, "Regels"), h("dd", null, String(item.lineCount))),
      h("div", { class: "actions" }, yes, no));
    const close = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    yes.addEventListener("click", () => close(true));
    no.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(false); });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}
