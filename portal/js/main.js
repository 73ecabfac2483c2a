// @ts-check
// The portal's shell: who is signed in, the menu, the dev banner, and the hash router.
import { api, config, devPrincipal, dropEarly, forgetDevPrincipal } from "./api.js";
import { add, h, notice, retryButton, takeFlash, whatToDo } from "./ui.js";
import * as runs from "./runs.js";

/**
 * What a screen gets: its container, the route's parameters and query, who is signed in, and
 * alive() (false once the user went elsewhere: a late answer must not draw). session is null
 * only on the sign-in page.
 * @typedef {{view: HTMLElement, params: string[], query: URLSearchParams,
 *   session: {name: string, officeId: string, isAdmin: boolean} | null, config: import("./api.js").PortalConfig,
 *   alive: () => boolean, refresh: () => Promise<void>}} ViewContext
 */
/** A screen: draws into ctx.view; may answer a cleanup (timers) for when the user leaves. */
/** @typedef {(ctx: ViewContext) => Promise<(() => void) | void | undefined | null>} View */

/** @type {(file: string, name: string) => View} */
const lazy = (file, name) => async (ctx) => (await import(file))[name](ctx);

// [pattern, section (menu), view]
/** @type {Array<[RegExp, string | null, View]>} */
const ROUTES = [
  [/^runs$/, "runs", runs.list],
  [/^runs\/([^/]+)$/, "runs", runs.detail],
  [/^rerun$/, "runs", runs.rerun],
  [/^koppelingen$/, "koppelingen", lazy("./connections.js", "overview")],
  [/^koppelingen\/loket$/, "koppelingen", lazy("./connections.js", "loket")],
  [/^koppelingen\/afas$/, "koppelingen", lazy("./connections.js", "chooseAfas")],
  [/^koppelingen\/afas-profit\/([^/]+)$/, "koppelingen", lazy("./connections.js", "profit")],
  [/^koppelingen\/afas-sb\/nieuw$/, "koppelingen", lazy("./connections.js", "sb")],
  [/^clients$/, "clients", lazy("./clients.js", "list")],
  [/^clients\/([^/]+)$/, "clients", lazy("./clients.js", "form")],
  [/^aansluiting$/, "aansluiting", lazy("./reconciliation.js", "overview")],
  [/^clients\/([^/]+)\/aansluiting$/, "aansluiting", lazy("./reconciliation.js", "client")],
  [/^voorbeeld$/, "voorbeeld", lazy("./clients.js", "preview")],
  [/^runs\/([^/]+)\/loonruns\/([^/]+)$/, "runs", lazy("./journalrun.js", "detail")],
  [/^approvals$/, "approvals", lazy("./approvals.js", "list")],
  [/^notifications$/, "koppelingen", lazy("./notifications.js", "form")],
  [/^aanmelden$/, null, lazy("./devsignin.js", "signIn")],
];

// Addresses in e-mails and OAuth landings (English, as the API names things) → the screens.
// "klanten": the legacy address of Client configuraties (bookmarks, older e-mails).
/** @type {Record<string, string>} */
const ALIASES = { connections: "koppelingen", klanten: "clients", goedkeuren: "approvals", meldingen: "notifications" }; // legacy address

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const cfg = config();
/** @type {{cleanup: (() => void) | null, seq: number}} */
let current = { cleanup: null, seq: 0 };
let firstRender = true;

/** Who is signed in: the dev principal (development) or the Easy Auth user. */
/** @returns {{name: string, officeId: string, isAdmin: boolean} | null} */
export function session() {
  if (cfg.devSignIn) {
    const p = devPrincipal();
    return p ? { name: p.name, officeId: p.officeId, isAdmin: p.role === "beheerder" } : null;
  }
  return cfg.user ?? null;
}

function renderUser() {
  const box = /** @type {HTMLElement} */ (document.getElementById("user"));
  box.replaceChildren();
  const user = session();
  if (!user) return;
  add(box, 
    // The office id is a technical id (the Entra tenant): a tooltip for support, not header text.
    h("span", { title: `Kantoor ${user.officeId}` }, h("span", { class: "visually-hidden" }, "Aangemeld als "), user.name),
    h("span", { class: "role" }, user.isAdmin ? "Beheerder" : "Lezer"),
    cfg.devSignIn
      ? h("button", { type: "button", class: "secondary", onclick: () => { forgetDevPrincipal(); location.hash = "#/aanmelden"; renderUser(); } }, "Afmelden")
      : h("a", { href: cfg.signOutUrl }, "Afmelden"),
  );
}

function renderBanner() {
  const banner = /** @type {HTMLElement} */ (document.getElementById("dev-banner"));
  if (!cfg.devSignIn) return;
  banner.hidden = false;
  banner.replaceChildren(
    "Ontwikkelmodus: de aanmelding is nagebootst (Ontwikkel-aanmelding). Niet voor productie.",
    h("a", { href: "#/aanmelden" }, "Andere gebruiker kiezen"),
  );
}

function setupMenu() {
  const toggle = /** @type {HTMLButtonElement} */ (document.querySelector(".menu-toggle"));
  const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
  const narrow = matchMedia("(max-width: 760px)");
  const apply = () => {
    toggle.hidden = !narrow.matches;
    nav.dataset.collapsed = String(narrow.matches && toggle.getAttribute("aria-expanded") !== "true");
  };
  toggle.addEventListener("click", () => {
    toggle.setAttribute("aria-expanded", String(toggle.getAttribute("aria-expanded") !== "true"));
    apply();
  });
  narrow.addEventListener("change", apply);
  apply();
  nav.addEventListener("click", (e) => {
    if (/** @type {Element} */ (e.target).closest("a") && narrow.matches) { toggle.setAttribute("aria-expanded", "false"); apply(); }
  });
}

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  const [path, search = ""] = raw.split("?");
  return { path: path.replace(/\/$/, ""), query: new URLSearchParams(search) };
}

async function render() {
  const { path, query } = parseHash();
  if (current.cleanup) { try { current.cleanup(); } catch { /* view already gone */ } }
  const seq = ++current.seq;
  current.cleanup = null;
  if (!path) { location.replace("#/runs"); return; }
  if (ALIASES[path]) { location.replace(`#/${ALIASES[path]}${query.toString() ? "?" + query : ""}`); return; }

  const user = session();
  if (!user && path !== "aanmelden") {
    if (cfg.devSignIn) {
      sessionStorage.setItem("loonbrug.after-sign-in", `#/${path}${query.toString() ? "?" + query : ""}`);
      location.replace("#/aanmelden");
    } else {
      main.replaceChildren(
        h("h1", { tabindex: "-1" }, "Aanmelden"),
        notice("warning",
          h("p", null, "U bent niet aangemeld bij Loonbrug."),
          h("p", null, h("a", { href: cfg.signInUrl, class: "button" }, "Aanmelden met uw Microsoft-account"))));
    }
    return;
  }
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-nav]")).forEach((a) => {
    if (route && a.dataset.nav === route[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  const view = h("div");
  const flashed = takeFlash();
  const ctx = {
    view,
    params: route ? (path.match(route[0]) || []).slice(1) : [],
    query,
    session: user,
    config: cfg,
    alive: () => seq === current.seq,
    refresh: () => render(),
  };
  main.replaceChildren(view);
  try {
    if (!route) throw Object.assign(new Error("Deze pagina bestaat niet."), { notFound: true });
    current.cleanup = (await route[2](ctx)) || null;
  } catch (error) {
    if (!ctx.alive()) return;
    view.replaceChildren(
      h("h1", { tabindex: "-1" }, error.notFound ? "Pagina niet gevonden" : "Er ging iets mis"),
      notice("error", h("p", null, error.detail || error.message),
        whatToDo(error.hint),
        retryButton(error)),
      h("p", null, h("a", { href: "#/runs" }, "Naar het Runs overzicht")));
  }
  if (!ctx.alive()) return;
  if (flashed) view.querySelector("h1")?.after(flashed);
  countApprovals();
  const title = view.querySelector("h1")?.textContent;
  document.title = title ? `${title} · Loonbrug` : "Loonbrug";
  if (!firstRender) view.querySelector("h1")?.focus();
  firstRender = false;
  dropEarly(); // answers early.js fetched and the first screen did not take: never used later
}

/** The count badge on "Goedkeuren": pending items of the office, fetched after each screen and
 * whenever a screen says the items changed (loonbrug:approvals-changed). */
let counting = null;
let recount = false;
function countApprovals() {
  if (!session()) return;
  if (counting) { recount = true; return; }
  const badge = /** @type {HTMLElement} */ (document.getElementById("approvals-count"));
  counting = api.get("/approvals").then((answer) => {
    const n = answer.approvals.length;
    badge.hidden = n === 0;
    badge.replaceChildren(String(n), h("span", { class: "visually-hidden" }, n === 1 ? " item wacht" : " items wachten"));
  }).catch(() => { badge.hidden = true; }).finally(() => {
    counting = null;
    if (recount) { recount = false; countApprovals(); }
  });
}
window.addEventListener("loonbrug:approvals-changed", () => countApprovals());

window.addEventListener("loonbrug:signed-out", () => {
  if (cfg.devSignIn) return; // the dev sign-in page explains itself
  const banner = notice("warning", h("p", null, "Uw sessie is verlopen. ",
    h("a", { href: cfg.signInUrl }, "Meld u opnieuw aan"), "."));
  if (!main.querySelector(".notice.signed-out")) { banner.classList.add("signed-out"); main.prepend(banner); }
});
window.addEventListener("hashchange", () => { renderUser(); render(); });
window.addEventListener("loonbrug:retry", () => render());

renderBanner();
renderUser();
setupMenu();
const back = sessionStorage.getItem("loonbrug.return");
// Back from Loket.nl or AFAS SB: at "/" (PORTAL_URL unset) or at PORTAL_URL#/connections.
if (back && (!location.hash || location.hash === "#/" || location.hash === "#/connections")) {
  sessionStorage.removeItem("loonbrug.return");
  location.replace(back); // back from Loket.nl or AFAS SB: the hashchange renders it
} else {
  render();
}
