// @ts-check
// Configuratie › E-mailmeldingen: who gets e-mail from Loonbrug and which e-mails (GET/PUT
// /api/notifications). Readers see the settings; only admins change them.
import { request } from "./api.js";
import {
  add, busy, clearErrors, dateTime, h, nextId, notice, pageHeader, problemNotice, registerLabels,
  showErrors, whatToDo,
} from "./ui.js";

const MAX_RECIPIENTS = 20;
const KINDS = [
  ["morningSummary", "Ochtendoverzicht van de nachtelijke run",
    "Elke ochtend per client: hoeveel journaalposten zijn geïmporteerd, mislukt of wachten op goedkeuring, met een link naar de run."],
  ["journalRunFailed", "Direct bericht als een journaalpost niet geboekt kon worden",
    "Met de reden, wat u kunt doen en een link naar de run."],
  ["reauthorization", "Direct bericht als een koppeling opnieuw toestemming nodig heeft",
    "Loket.nl of AFAS vraagt opnieuw om toestemming; tot die er is, boekt Loonbrug niets voor de clients van die koppeling."],
];

registerLabels({
  recipients: "Ontvangers", morningSummary: "Ochtendoverzicht", journalRunFailed: "Journaalpost niet geboekt",
  reauthorization: "Opnieuw toestemming nodig",
});

/**
 * What a reader sees: the settings as plain text (not a form whose fields cannot be used).
 * @param {{recipients: string[], updatedAt?: string, updatedBy?: string} & Record<string, any>} settings
 * @returns {HTMLElement}
 */
function readView(settings) {
  return h("section", { class: "card settings-read" },
    h("h2", null, "Ontvangers"),
    settings.recipients.length
      ? h("ul", { class: "recipients-read" }, settings.recipients.map((r) => h("li", null, r)))
      : h("p", { class: "muted" }, "Nog geen ontvangers: Loonbrug verstuurt geen e-mail."),
    h("h2", null, "Welke e-mails?"),
    h("ul", { class: "kinds-read" }, KINDS.map(([key, label]) =>
      h("li", null, h("strong", null, settings[key] ? "Aan" : "Uit"), ": ", label))),
    h("p", { class: "muted" }, settings.updatedAt
      ? `Laatst gewijzigd op ${dateTime(settings.updatedAt)}${settings.updatedBy ? ` door ${settings.updatedBy}` : ""}.`
      : "Nog nooit opgeslagen: dit zijn de standaardinstellingen."));
}

export async function form(ctx) {
  const { view, session } = ctx;
  const readOnly = !session.isAdmin;
  add(view, ...pageHeader("E-mailmeldingen", [["Configuratie"], ["Koppelingen", "#/koppelingen"], ["E-mailmeldingen"]]));
  const { data: settings } = await request("GET", "/notifications");
  if (!ctx.alive()) return;
  add(view, h("p", null, "Loonbrug kan uw kantoor per e-mail laten weten hoe de nachtelijke run ging en wanneer er iets aandacht nodig heeft. Kies hier wie de e-mails krijgt en welke."));
  if (!settings.emailConfigured) {
    add(view, notice("warning",
      h("p", null, h("strong", null, "Deze installatie van Loonbrug kan (nog) geen e-mail versturen.")),
      h("p", null, "U kunt de instellingen al opslaan; de e-mails gaan vanzelf mee zodra e-mail is ingesteld."),
      whatToDo("vraag de beheerder van de Loonbrug-installatie om het versturen van e-mail in te stellen (zie de handleiding voor beheer).")));
  }
  if (readOnly) {
    add(view, notice("info", h("p", null, "U kunt deze instellingen bekijken; alleen een beheerder (rol Loonbrug-beheerder) kan ze wijzigen.")));
    add(view, readView(settings));
    return;
  }

  const summary = h("div");
  const rows = h("ol", { class: "recipients" });
  const addButton = readOnly ? null : h("button", { type: "button", class: "secondary", onclick: () => {
    if (inputs().length >= MAX_RECIPIENTS) return;
    addRow("").focus();
    renumber();
  } }, "Adres toevoegen");
  const inputs = () => [.../** @type {NodeListOf<HTMLInputElement>} */ (rows.querySelectorAll("input[type=email]"))];
  const renumber = () => {
    inputs().forEach((input, i) => {
      const row = /** @type {HTMLLIElement} */ (input.closest("li"));
      /** @type {HTMLLabelElement} */ (row.querySelector("label")).textContent = `E-mailadres ${i + 1}`;
      row.querySelector("button")?.setAttribute("aria-label", `E-mailadres ${i + 1} verwijderen`);
    });
    if (addButton) addButton.disabled = inputs().length >= MAX_RECIPIENTS;
    emptyNote.hidden = inputs().length > 0;
  };
  const addRow = (value) => {
    const input = h("input", { type: "email", value, autocomplete: "email", spellcheck: "false", maxlength: "254", disabled: readOnly, id: nextId("ontvanger") });
    const remove = readOnly ? null : h("button", { type: "button", class: "link", onclick: () => {
      const next = row.nextElementSibling?.querySelector("input") || row.previousElementSibling?.querySelector("input") || addButton;
      row.remove();
      renumber();
      next?.focus();
    } }, "Verwijderen");
    const row = h("li", { class: "field recipient" }, h("label", { for: input.id }, "E-mailadres"), h("div", { class: "inline" }, input, remove));
    rows.append(row);
    return input;
  };
  const emptyNote = h("p", { class: "muted" }, "Nog geen ontvangers: Loonbrug verstuurt dan geen e-mail.");
  settings.recipients.forEach((r) => addRow(r));
  if (!settings.recipients.length && !readOnly) addRow("");

  const boxes = Object.fromEntries(KINDS.map(([key]) => [key, h("input", { type: "checkbox", id: nextId(key), checked: settings[key], disabled: readOnly })]));
  const save = h("button", { type: "submit" }, "Opslaan");
  const changedBy = h("p", { class: "muted" });
  const showChanged = (s) => {
    changedBy.textContent = s.updatedAt ? `Laatst gewijzigd op ${dateTime(s.updatedAt)}${s.updatedBy ? ` door ${s.updatedBy}` : ""}.` : "Nog nooit opgeslagen: dit zijn de standaardinstellingen.";
  };
  showChanged(settings);
  const formNode = h("form", { novalidate: true },
    summary,
    h("fieldset", { dataset: { field: "recipients" } },
      h("legend", null, "Ontvangers"),
      h("p", { class: "help" }, `Eén e-mailadres per regel, maximaal ${MAX_RECIPIENTS}. Iedereen hier krijgt de gekozen e-mails.`),
      rows, emptyNote, addButton),
    h("fieldset", null,
      h("legend", null, "Welke e-mails?"),
      KINDS.map(([key, label, help]) => h("div", { class: "field check", dataset: { field: key } },
        boxes[key], h("label", { for: boxes[key].id }, label),
        h("p", { class: "help", id: `${boxes[key].id}-help` }, help)))),
    changedBy,
    readOnly ? null : h("div", { class: "actions" }, save));
  Object.values(boxes).forEach((box) => box.setAttribute("aria-describedby", `${box.id}-help`));
  renumber();

  formNode.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, async () => {
      clearErrors(formNode);
      summary.replaceChildren();
      const sent = inputs().filter((input) => input.value.trim());
      const body = {
        recipients: sent.map((input) => input.value.trim()),
        ...Object.fromEntries(KINDS.map(([key]) => [key, boxes[key].checked])),
      };
      try {
        const { data: saved } = await request("PUT", "/notifications", { body });
        rows.replaceChildren();
        saved.recipients.forEach((r) => addRow(r));
        renumber();
        showChanged(saved);
        const ok = notice("ok", h("p", null, "De instellingen voor e-mailmeldingen zijn opgeslagen."),
          !saved.recipients.length ? h("p", null, "Er zijn geen ontvangers: Loonbrug verstuurt geen e-mail.") : null);
        ok.tabIndex = -1;
        summary.replaceChildren(ok);
        ok.focus();
      } catch (error) {
        // "recipients.2" is the third address sent (empty rows are not sent).
        const unplaced = showErrors(formNode, error.errors, (f) => {
          const match = /^recipients\.(\d+)$/.exec(f);
          return match ? sent[Number(match[1])] || null : null;
        });
        summary.replaceChildren(problemNotice(error, unplaced));
        const first = /** @type {HTMLElement | null} */ (formNode.querySelector("[aria-invalid]") || summary.querySelector(".notice"));
        if (first) { if (!first.matches("input")) first.tabIndex = -1; first.focus(); }
      }
    });
  });
  add(view, formNode);
}
