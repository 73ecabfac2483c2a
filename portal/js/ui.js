// @ts-check
// Small DOM and formatting helpers shared by every screen.
import { date, parseDate } from "./format.js";

/** A child of h()/add(): a node, text, or a list of them; null/undefined/false are skipped. */
/** @typedef {Node | string | number | boolean | null | undefined | ChildList} Child */
/** @typedef {Child[]} ChildList */
/** Attributes for h(): `class`, `dataset`, `value`, `on<event>` handlers, any other attribute. */
/** @typedef {Record<string, any> | null | undefined} Attrs */
/** A field error as the API's problem details list it; `node` is a form's own locator. */
/** @typedef {{field: string, detail: string, node?: Element, duplicate?: boolean}} FieldError */
/** What problemNotice shows: an ApiError or any Error. */
/** @typedef {{detail?: string, hint?: string, errors?: FieldError[], incident?: string, status?: number}} Problem */

/**
 * h("p", {class: "x", onclick: fn}, "text", child, [more])
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "value" && "value" in node) {
      node.value = value;
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

/**
 * node.append(...) that skips null/false (conditional children).
 * @template {Element} N
 * @param {N} node
 * @param {...Child} children
 * @returns {N}
 */
export function add(node, ...children) {
  append(node, children);
  return node;
}

/** @param {Element} node @param {Child[]} children */
function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

let uid = 0;
/** @type {(prefix?: string) => string} */
export const nextId = (prefix = "f") => `${prefix}-${++uid}`;

// -- formatting (format.js: pure, tested under Node) ------------------------------------------------

export { date, dateTime, money, parseDate, period, yesNo } from "./format.js";

/**
 * A date field that shows and takes dd-mm-jjjj whatever the browser's locale (an
 * <input type="date"> shows the browser's own format, e.g. mm/dd/yyyy in English). value: ISO
 * ("2024-02-01") or "". Read it with parseDate(input.value); a typed date is tidied to
 * dd-mm-jjjj when the field is left.
 * @param {{value?: string} & Record<string, any>} [attrs]
 * @returns {HTMLInputElement}
 */
export function dateInput({ value = "", ...attrs } = {}) {
  const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", placeholder: "dd-mm-jjjj", maxlength: "10", ...attrs, value: value ? date(value) : "" });
  input.addEventListener("change", () => {
    const iso = parseDate(input.value);
    if (iso) input.value = date(iso);
  });
  return input;
}

// -- page parts -----------------------------------------------------------------------------------

/**
 * The breadcrumb trail and the page's h1.
 * @param {string} title
 * @param {string[][]} [crumbs] [text, href?] each; the last one is the current page
 * @returns {HTMLElement[]}
 */
export function pageHeader(title, crumbs = []) {
  const trail = crumbs; // no "Dashboard" crumb: Loonbrug has no dashboard (the manual's has)
  return [
    // A trail of one (the page itself, e.g. "Runs overzicht") only repeats the title: hidden.
    h("nav", { class: "crumbs", "aria-label": "Kruimelpad", hidden: trail.length < 2 },
      h("ol", null, trail.map(([text, href], i) =>
        h("li", null, href && i < trail.length - 1 ? h("a", { href }, text) : text)))),
    h("h1", { tabindex: "-1" }, title),
  ];
}

/** @param {string} kind @param {string} text @returns {HTMLSpanElement} */
export function badge(kind, text) {
  return h("span", { class: `status ${kind}` }, text);
}

/** @param {string} kind @param {...Child} content @returns {HTMLDivElement} */
export function notice(kind, ...content) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, content);
}

/**
 * "Wat kunt u doen": the one block every screen uses for what the user can do about a message.
 * @param {Child} text
 * @returns {HTMLParagraphElement | null}
 */
export function whatToDo(text) {
  return text ? h("p", { class: "hint" }, h("strong", null, "Wat kunt u doen: "), text) : null;
}

/** @param {...Child} content @returns {HTMLDivElement} */
export function empty(...content) {
  return h("div", { class: "empty" }, content);
}

/**
 * A problem from the API: Dutch detail, hint, and the field errors nobody else showed.
 * @param {Problem} error
 * @param {FieldError[]} [unplaced]
 * @returns {HTMLDivElement}
 */
export function problemNotice(error, unplaced) {
  const errors = unplaced ?? error.errors ?? [];
  const placed = Boolean(error.errors?.length) && !errors.length; // only "see the fields"
  const node = notice(
    "error",
    h("p", null, h("strong", null, error.detail || String(error))),
    whatToDo(error.hint),
    errors.length ? h("ul", null, errors.map((e) => h("li", null, `${fieldLabel(e.field)} ${e.detail}`))) : null,
    error.incident ? h("p", { class: "muted" }, `Incidentnummer: ${error.incident}`) : null,
    retryButton(error),
  );
  if (placed) node.dataset.fieldsOnly = "true"; // goes when the last field error is edited away
  return node;
}

/** "Server niet bereikbaar" (status 0), a timeout or a 5xx: a button that loads the screen
 * again (main.js re-renders the route on loonbrug:retry).
 * @param {Problem | null | undefined} error
 * @returns {HTMLParagraphElement | null}
 */
export function retryButton(error) {
  const status = error?.status;
  if (!(status === 0 || status === 429 || (status ?? 0) >= 500)) return null;
  return h("p", null, h("button", { type: "button", class: "secondary retry",
    onclick: () => window.dispatchEvent(new CustomEvent("loonbrug:retry")) }, "Opnieuw proberen"));
}

/** @type {Record<string, string>} */
const LABELS = {};
/** @param {Record<string, string>} map */
export function registerLabels(map) { Object.assign(LABELS, map); }
/** @param {string} field */
function fieldLabel(field) { return LABELS[field] ? `${LABELS[field]}:` : `${field}:`; }

/**
 * A table. columns: [{label, key?, render?(row) → node/text, num?}]. Stacks into cards on a phone
 * (each cell shows its column name).
 * @template T
 * @param {Array<{label: string, key?: string, render?: (row: T) => Child, num?: boolean}>} columns
 * @param {T[]} rows
 * @param {{caption?: string, rowAttrs?: (row: T) => Attrs}} [options]
 * @returns {HTMLDivElement}
 */
export function table(columns, rows, { caption, rowAttrs } = {}) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "stack" },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      h("tbody", null, rows.map((row) =>
        h("tr", rowAttrs ? rowAttrs(row) : null, columns.map((c) =>
          h("td", { "data-label": c.label, class: c.num ? "num" : null },
            c.render ? c.render(row) : (c.key ? /** @type {any} */ (row)[c.key] : null) ?? "—"))))),
    ));
}

/**
 * A labelled form field. control: an input/select/textarea element (gets an id).
 * @param {string} label
 * @param {HTMLElement} control
 * @param {{help?: string, field?: string}} [options]
 * @returns {HTMLDivElement}
 */
export function field(label, control, { help, field: name } = {}) {
  const id = control.id || nextId();
  control.id = id;
  if (name) control.dataset.field = name;
  const helpId = help ? `${id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    control,
    help ? h("p", { class: "help", id: helpId }, help) : null);
}

/**
 * Ja/Nee radio buttons in a fieldset.
 * @param {string} legend
 * @param {string} name
 * @param {unknown} value
 * @param {{field?: string, disabled?: boolean}} [options]
 * @returns {HTMLFieldSetElement}
 */
export function yesNoField(legend, name, value, { field: fieldName, disabled } = {}) {
  const group = h("fieldset", { class: "field", dataset: fieldName ? { field: fieldName } : undefined },
    h("legend", null, legend),
    h("div", { class: "radios" },
      [["true", "Ja"], ["false", "Nee"]].map(([v, text]) =>
        h("label", null, h("input", { type: "radio", name, value: v, checked: String(value) === v, disabled }), text))));
  return group;
}

/** The chosen Ja/Nee: true, false, or null when none is chosen. @param {ParentNode} form @param {string} name @returns {boolean | null} */
export function radioValue(form, name) {
  const chosen = form.querySelector(`input[name="${name}"]:checked`);
  return chosen instanceof HTMLInputElement ? chosen.value === "true" : null;
}

// -- field errors ---------------------------------------------------------------------------------

/** @param {ParentNode} scope */
export function clearErrors(scope) {
  scope.querySelectorAll(".field-error").forEach((n) => n.remove());
  scope.querySelectorAll("[aria-invalid]").forEach((n) => {
    n.removeAttribute("aria-invalid");
    const described = (n.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.endsWith("-err"));
    if (described.length) n.setAttribute("aria-describedby", described.join(" "));
    else n.removeAttribute("aria-describedby");
  });
}

/**
 * Show each error beside its field: the error's own node (a form's local check of one table
 * row), a custom locator(field) for table rows, or [data-field="target.journal"]. Answers the
 * errors that found no field (shown in the summary).
 * @param {ParentNode} scope
 * @param {FieldError[]} errors
 * @param {(field: string) => Element | null | undefined} [locate]
 * @returns {FieldError[]}
 */
export function showErrors(scope, errors, locate) {
  const unplaced = [];
  for (const error of errors) {
    const target = (error.node?.isConnected ? error.node : null) || (locate && locate(error.field)) || scope.querySelector(`[data-field="${CSS.escape(error.field)}"]`);
    if (!target) { unplaced.push(error); continue; }
    const id = `${target.id || nextId("e")}-err`;
    const message = h("p", { class: "field-error", id }, error.detail);
    const control = target.matches("input,select,textarea") ? target : target.querySelector("input,select,textarea");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", `${control.getAttribute("aria-describedby") || ""} ${id}`.trim());
    }
    const host = target.closest("td") || target.closest(".field") || target;
    host.append(message);
    clearOnEdit(host, message, control);
  }
  return unplaced;
}

/**
 * The error beside a field goes as soon as the user edits that field (typing, choosing, ticking):
 * the message, aria-invalid and the aria-describedby link to it. The next save checks again.
 * @param {Element} host the field's box (.field, a table cell, a fieldset)
 * @param {HTMLElement} message
 * @param {Element | null} control
 */
function clearOnEdit(host, message, control) {
  const stop = new AbortController();
  const clear = () => {
    stop.abort();
    if (!message.isConnected) return;
    message.remove();
    const stillWrong = host.querySelector(".field-error") !== null; // another error stands here
    const view = host.closest("main") || document;
    if (!view.querySelector(".field-error")) view.querySelectorAll("[data-fields-only]").forEach((n) => n.remove());
    for (const node of new Set([control, ...host.querySelectorAll("[aria-invalid]")])) {
      if (!node) continue;
      if (!stillWrong) node.removeAttribute("aria-invalid");
      const described = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== message.id);
      if (described.length) node.setAttribute("aria-describedby", described.join(" "));
      else node.removeAttribute("aria-describedby");
    }
  };
  host.addEventListener("input", clear, { signal: stop.signal });
  host.addEventListener("change", clear, { signal: stop.signal });
}

/** @param {string} text */
export function announce(text) {
  const live = document.getElementById("live");
  if (live) { live.textContent = ""; setTimeout(() => { live.textContent = text; }, 30); }
}

// -- messages that survive one navigation -------------------------------------------------------------

const FLASH = "loonbrug.flash";
/** @param {string} kind @param {string} text */
export function flash(kind, text) { sessionStorage.setItem(FLASH, JSON.stringify({ kind, text })); }
/** @returns {HTMLDivElement | null} */
export function takeFlash() {
  const raw = sessionStorage.getItem(FLASH);
  sessionStorage.removeItem(FLASH);
  if (!raw) return null;
  const { kind, text } = JSON.parse(raw);
  return notice(kind, h("p", null, text));
}

/**
 * Run an async action with the button disabled and "bezig" announced. A second click while the
 * action runs does nothing (a link cannot be disabled: it is marked aria-busy, which CSS shows
 * and this function honours), so a download or a save is never started twice.
 * @template R
 * @param {HTMLElement & {disabled?: boolean}} button a button or a link
 * @param {() => Promise<R> | R} action
 * @param {{text?: string}} [options] text: what the button says while busy ("Bezig met downloaden…")
 * @returns {Promise<R | undefined>}
 */
export async function busy(button, action, { text } = {}) {
  if (button.getAttribute("aria-busy") === "true") return undefined;
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (text) button.textContent = text;
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}
