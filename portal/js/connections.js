// @ts-check
// Configuratie › Koppelingen: Loket.nl (consent), AFAS Profit (token) and AFAS SB (consent).
import { api } from "./api.js";
import {
  add,
  badge, busy, clearErrors, dateTime, empty, field, flash, h, notice, pageHeader, problemNotice,
  radioValue, registerLabels, showErrors, table, yesNo, yesNoField, whatToDo,
} from "./ui.js";
import { loketLabel } from "./runs.js";

const STATES = { connected: "Gekoppeld", reauthorize: "Opnieuw toestemming nodig", inactive: "Inactief" };
const KINDS = { "afas-profit": "AFAS Profit", "afas-sb": "AFAS SB" };
const CRUMBS = [["Configuratie"], ["Koppelingen", "#/koppelingen"]];

registerLabels({ token: "Token app connector Profit", environment: "Omgeving", environmentName: "Omgevingsnaam", active: "Actief", apiServer: "Adres van AFAS SB" });

// The outcome of an AFAS SB consent (?afas-sb=…&omgeving=…), started here or at the App
// Center's landing page: the callback always says what happened.
const SB_OUTCOMES = {
  gekoppeld: ["ok", (env) => env === "admin" ? "Het Admin Center van AFAS SB is gekoppeld. Kies de klantomgevingen bij de client configuraties." : `De koppeling met AFAS SB omgeving ${env} is gemaakt.`],
  geweigerd: ["warning", (env) => `AFAS SB heeft geen toestemming gegeven voor ${env === "admin" ? "het Admin Center" : `omgeving ${env}`}; er is niets gekoppeld. Koppel opnieuw en kies Ja bij de vraag om toestemming.`],
  mislukt: ["error", (env) => `Het koppelen met AFAS SB ${env === "admin" ? "(Admin Center)" : `omgeving ${env}`} kon niet worden afgerond; er is niets gekoppeld. Koppel opnieuw.`],
  adres: ["error", () => "Het adres dat AFAS SB meegaf is geen bekend adres van AFAS SB. Er is niets gekoppeld; koppel hieronder met het adres uit AFAS SB, of vraag de beheerder van Loonbrug om de toegestane adressen (AFAS_SB_ALLOWED_HOSTS)."],
  "niet-ingesteld": ["error", () => "Koppelen met AFAS SB is in deze omgeving van Loonbrug niet ingesteld. Vraag de beheerder van Loonbrug om AFAS_SB_CLIENT_ID en AFAS_SB_CLIENT_SECRET."],
};

// The outcome of a Loket.nl consent that did not connect (?loket=…); a stored one comes back
// without it (the flash set before leaving says so).
const LOKET_OUTCOMES = {
  geweigerd: ["warning", () => "In Loket.nl is geen toestemming gegeven; er is niets gekoppeld. Koppel opnieuw en klik in Loket.nl op Toestaan."],
  mislukt: ["error", () => "Het koppelen met Loket.nl kon niet worden afgerond; er is niets gekoppeld. Probeer het over een paar minuten opnieuw."],
};

/** "https://beers.afasfocus.nl" → "beers.afasfocus.nl" (for the overview). */
function hostOf(url) {
  try { return new URL(url).host; } catch { return url || ""; }
}

/** What an AFAS SB row is: a customer environment, the Admin Center, or one reached through it. */
function sbRole(c) {
  return c.details?.role || (c.environment === "admin" ? "admin-center" : "customer");
}

/** Before leaving for Loket.nl or AFAS SB: come back to Koppelingen (with a word of what
 * happened, unless the way back says it: AFAS SB returns with its outcome in the address). */
function leaveFor(url, text) {
  sessionStorage.setItem("loonbrug.return", "#/koppelingen");
  if (text) flash("ok", text);
  location.assign(url);
}

export async function overview(ctx) {
  const { view, session, query } = ctx;
  add(view, ...pageHeader("Koppelingen", [CRUMBS[0], ["Koppelingen"]]));
  const loketOutcome = LOKET_OUTCOMES[query.get("loket")];
  if (loketOutcome) {
    sessionStorage.removeItem("loonbrug.return");
    add(view, notice(loketOutcome[0], h("p", null, loketOutcome[1]())));
  }
  const outcome = SB_OUTCOMES[query.get("afas-sb")];
  if (outcome) {
    sessionStorage.removeItem("loonbrug.return");
    const env = query.get("omgeving") || "";
    const again = outcome[0] !== "ok" && env && session.isAdmin
      ? h("p", null, h("a", { href: `#/koppelingen/afas-sb/nieuw?${new URLSearchParams({ omgeving: env })}` }, "Opnieuw koppelen"))
      : null;
    add(view, notice(outcome[0], h("p", null, outcome[1](env)), again));
  }
  const [answer, mail] = await Promise.all([api.get("/connections"), api.get("/notifications").catch(() => null)]);
  if (!ctx.alive()) return;
  const all = answer.connections;
  const loket = all.find((c) => c.kind === "loket");
  const afas = all.filter((c) => c.kind !== "loket");
  add(view, 
    h("p", null, "Loonbrug haalt de journaalposten op uit Loket.nl en boekt ze in AFAS Profit of AFAS SB. Daarvoor zijn twee koppelingen nodig."),
    h("div", { class: "cards" }, loketCard(ctx, loket, session), afasCard(afas, session)),
    mailCard(mail, session),
  );
}

/** E-mailmeldingen: who hears about the nightly and about consent that must be renewed. */
function mailCard(mail, session) {
  const on = mail ? [mail.morningSummary && "ochtendoverzicht", mail.journalRunFailed && "niet geboekte journaalposten", mail.reauthorization && "opnieuw toestemming nodig"].filter(Boolean) : [];
  return h("section", { class: "card mail-card", "aria-labelledby": "mail-title" },
    h("h2", { id: "mail-title" }, "E-mailmeldingen"),
    h("p", null, "Laat uw kantoor per e-mail weten hoe de nachtelijke run ging, en wanneer Loket.nl of AFAS opnieuw toestemming vraagt."),
    mail ? h("p", null, mail.recipients.length
      ? `${mail.recipients.length} ${mail.recipients.length === 1 ? "ontvanger" : "ontvangers"}; ${on.length ? `e-mail bij: ${on.join(", ")}` : "alle e-mails staan uit"}.`
      : "Nog geen ontvangers ingesteld.") : null,
    mail && !mail.emailConfigured ? h("p", { class: "muted" }, "Let op: deze installatie verstuurt (nog) geen e-mail.") : null,
    h("a", { href: "#/notifications", class: session.isAdmin ? "button secondary" : null }, session.isAdmin ? "E-mailmeldingen instellen" : "E-mailmeldingen bekijken"));
}

function stateBadge(connection) {
  return badge(connection.state, STATES[connection.state] || connection.state);
}

function loketCard(ctx, loket, session) {
  const card = h("section", { class: "card", "aria-labelledby": "loket-title" }, h("h2", { id: "loket-title" }, "Loket.nl"));
  if (!loket) {
    add(card, 
      h("p", null, badge("none", "Niet gekoppeld")),
      h("p", null, "Koppel Loket.nl om de journaalposten van uw werkgevers op te halen."),
      session.isAdmin ? h("a", { class: "button", href: "#/koppelingen/loket" }, "Loket koppeling toevoegen")
        : h("p", { class: "muted" }, "Een beheerder van uw kantoor kan de koppeling toevoegen."));
    return card;
  }
  add(card, 
    h("dl", { class: "facts" },
      h("dt", null, "Status"), h("dd", null, stateBadge(loket)),
      h("dt", null, "Omgeving"), h("dd", null, loketLabel([loket])),
      h("dt", null, "Gekoppeld op"), h("dd", null, dateTime(loket.connectedAt)),
      h("dt", null, "Gekoppeld door"), h("dd", null, connectedBy(loket))),
    loket.state === "reauthorize"
      ? notice("warning", h("p", null, loket.reason || "Loket.nl vraagt opnieuw om toestemming."), whatToDo(loket.hint))
      : null);
  if (session.isAdmin) {
    const remove = h("button", { type: "button", class: "danger", onclick: () => {
      if (!confirm("De Loket-koppeling verwijderen? Loonbrug kan daarna geen journaalposten meer ophalen tot u opnieuw koppelt.")) return;
      busy(remove, async () => {
        try {
          await api.del("/connections/loket");
          flash("ok", "De Loket-koppeling is verwijderd.");
          ctx.refresh();
        } catch (error) { add(card, problemNotice(error)); }
      });
    } }, "Koppeling verwijderen");
    add(card, h("div", { class: "actions" }, h("a", { class: "button", href: "#/koppelingen/loket" }, "Opnieuw koppelen"), remove));
  }
  return card;
}

/** "Gekoppeld door": the name of who gave consent (or entered the token); connections made before
 * Loonbrug kept the name show no id but say so. */
export function connectedBy(connection) {
  return connection.connectedByName || "Een beheerder (naam niet bewaard)";
}

function afasCard(afas, session) {
  const card = h("section", { class: "card", "aria-labelledby": "afas-title" }, h("h2", { id: "afas-title" }, "AFAS"));
  // The AFAS table has six columns (and SB rows their API server): the card takes a whole row of
  // the grid (set through the CSSOM: the portal's CSP allows no style attributes).
  card.style.gridColumn = "1 / -1";
  if (!afas.length) {
    add(card, empty(h("p", null, "Nog geen AFAS-koppeling. Voeg AFAS Profit of AFAS SB toe, zodat Loonbrug de journaalposten kan boeken.")));
  } else {
    add(card, table([
      { label: "Type", render: (c) => KINDS[c.kind] },
      { label: "Omgeving", render: (c) => c.kind === "afas-sb" ? sbEnvironment(c) : (c.details?.environmentName && c.details.environmentName.toLowerCase() !== c.environment.toLowerCase() ? `${c.details.environmentName} (${c.environment})` : c.environment) },
      { label: "Status", render: (c) => h("div", null, stateBadge(c), c.state === "reauthorize" && c.hint ? h("div", { class: "muted" }, c.hint) : null) },
      { label: "Actief", render: (c) => yesNo(c.active) },
      { label: "Gekoppeld op", render: (c) => dateTime(c.connectedAt) },
      { label: "Gekoppeld door", render: connectedBy },
      ...(session.isAdmin ? [{ label: "Acties", render: (c) => c.kind === "afas-profit"
        ? h("a", { href: `#/koppelingen/afas-profit/${encodeURIComponent(c.environment)}`, "aria-label": `AFAS Profit ${c.environment} bewerken` }, "Bewerken")
        : sbAgain(c) }] : []),
    ], afas, { caption: "AFAS-koppelingen" }));
  }
  if (session.isAdmin) add(card, h("p", null, h("a", { class: "button", href: "#/koppelingen/afas" }, "AFAS koppeling toevoegen")));
  return card;
}

function sbEnvironment(c) {
  const role = sbRole(c);
  const where = c.details?.apiServer ? hostOf(c.details.apiServer) : "";
  if (role === "admin-center") return h("div", null, h("strong", null, "Admin Center"), where ? h("div", { class: "muted" }, where) : null);
  const name = c.details?.environmentName && c.details.environmentName.toLowerCase() !== c.environment.toLowerCase() ? `${c.details.environmentName} (${c.environment})` : c.environment;
  return h("div", null, name, h("div", { class: "muted" }, [where, role === "scope" ? "via het Admin Center" : null].filter(Boolean).join(" · ")));
}

/** "Opnieuw koppelen" for an AFAS SB row, on its own API server (a scope: its Admin Center). */
function sbAgain(c) {
  const role = sbRole(c);
  const server = (c.details?.apiServer || "").replace(/\/$/, "");
  const env = role === "scope" ? "admin" : c.environment;
  const address = server ? `${server}/${env}/` : "";
  const label = role === "scope" ? `Admin Center van ${c.environment} opnieuw koppelen` : `AFAS SB ${role === "admin-center" ? "Admin Center" : c.environment} opnieuw koppelen`;
  const query = new URLSearchParams(address ? { omgeving: env, adres: address } : { omgeving: env });
  return h("a", { href: `#/koppelingen/afas-sb/nieuw?${query}`, "aria-label": label }, role === "scope" ? "Admin Center opnieuw koppelen" : "Opnieuw koppelen");
}

function adminOnly(ctx) {
  if (ctx.session.isAdmin) return false;
  add(ctx.view, notice("warning", h("p", null, "Alleen een beheerder (rol Loonbrug-beheerder) kan koppelingen wijzigen."), h("p", null, h("a", { href: "#/koppelingen" }, "Terug naar Koppelingen"))));
  return true;
}

// -- Loket -------------------------------------------------------------------------------------------

export async function loket(ctx) {
  const { view } = ctx;
  add(view, ...pageHeader("Loket koppeling toevoegen", [...CRUMBS, ["Loket koppeling toevoegen"]]));
  if (adminOnly(ctx)) return;
  const result = h("div");
  const start = h("button", { type: "button", onclick: () => busy(start, async () => {
    result.replaceChildren();
    try {
      const answer = await api.post("/connections/loket");
      leaveFor(answer.authorizeUrl, "U bent terug van Loket.nl. Hieronder ziet u de status van de Loket-koppeling.");
    } catch (error) { result.replaceChildren(problemNotice(error)); }
  }) }, "Log in bij Loket.nl");
  add(view, 
    h("p", null, "Om een veilige connectie te maken met uw Loket.nl omgeving vragen wij eenmalig toestemming via de consent flow van Loket.nl. Log in met de Loket.nl gebruiker die speciaal voor deze koppeling is aangemaakt en klik daar op 'Toestaan'. U wordt daarna direct teruggestuurd naar Loonbrug."),
    h("section", { class: "panel", "aria-labelledby": "voorwaarden" },
      h("h2", { id: "voorwaarden" }, "Voorwaarden Loket.nl gebruiker"),
      h("ul", null,
        h("li", null, "De gebruiker is een nieuwe standaard Loket.nl gebruiker (nadrukkelijk geen webservicegebruiker) die alleen voor deze koppeling wordt gebruikt."),
        h("li", null, "De gebruiker is actief (niet geblokkeerd)."),
        h("li", null, "De gebruiker heeft toegang tot de werkgevers, via teams of direct bij de werkgever."),
        h("li", null, "De gebruiker heeft de rechten 'Raadplegen journaaloutput' en 'Raadplegen loonoutput'."))),
    result,
    h("div", { class: "actions" }, start, h("a", { class: "button secondary", href: "#/koppelingen" }, "Annuleren")));
}

// -- AFAS ----------------------------------------------------------------------------------------------

export async function chooseAfas(ctx) {
  const { view } = ctx;
  add(view, ...pageHeader("AFAS koppeling toevoegen", [...CRUMBS, ["AFAS koppeling toevoegen"]]));
  if (adminOnly(ctx)) return;
  add(view, 
    h("p", null, "Welke AFAS-omgeving wilt u koppelen?"),
    h("div", { class: "cards" },
      h("section", { class: "card" }, h("h2", null, "AFAS Profit"),
        h("p", null, "Met de token van een app connector uit uw AFAS Profit omgeving."),
        h("a", { class: "button", href: "#/koppelingen/afas-profit/nieuw" }, "AFAS Profit koppelen")),
      h("section", { class: "card" }, h("h2", null, "AFAS SB"),
        h("p", null, "U logt in bij AFAS SB en geeft daar toestemming."),
        h("a", { class: "button", href: "#/koppelingen/afas-sb/nieuw" }, "AFAS SB koppelen"))));
}

export async function profit(ctx) {
  const { view, params } = ctx;
  const isNew = params[0] === "nieuw";
  const title = isNew ? "AFAS Profit koppeling toevoegen" : "AFAS Profit koppeling bewerken";
  add(view, ...pageHeader(title, [...CRUMBS, [title]]));
  if (adminOnly(ctx)) return;
  let existing = null;
  if (!isNew) {
    const answer = await api.get("/connections");
    if (!ctx.alive()) return;
    existing = answer.connections.find((c) => c.kind === "afas-profit" && c.environment === params[0]);
    if (!existing) {
      add(view, notice("error", h("p", null, `Er is geen AFAS Profit koppeling met omgevingsnummer ${params[0]}.`)), h("a", { href: "#/koppelingen" }, "Terug naar Koppelingen"));
      return;
    }
  }
  const name = h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: existing?.details?.environmentName || "", placeholder: "O12345AA" });
  const number = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", value: existing?.environment || "", readonly: !isNew, placeholder: "12345" });
  const token = h("textarea", { spellcheck: "false", autocomplete: "off", rows: "4", placeholder: "<token><version>1</version><data>…</data></token>" });
  const summary = h("div");
  const save = h("button", { type: "submit" }, "Opslaan");
  const form = h("form", { class: "panel", novalidate: true },
    summary,
    h("div", { class: "grid-2" },
      field("Omgevingsnaam Profit", name, { field: "environmentName", help: "Bijvoorbeeld O12345AA (AFAS Online)." }),
      field("Omgevingsnummer Profit", number, { field: "environment", help: "De 5 cijfers uit de omgevingsnaam, bijvoorbeeld 12345." })),
    field("Token app connector Profit", token, {
      field: "token",
      help: isNew ? "Plak de hele token zoals AFAS hem toont, inclusief <token> en </token>."
        : "Laat leeg om de opgeslagen token te houden (bijvoorbeeld om alleen 'Actief' te wijzigen).",
    }),
    h("details", null, h("summary", null, "Hoe maak ik een app connector aan in mijn AFAS Profit omgeving?"),
      h("ol", null,
        h("li", null, "Ga in Profit naar Algemeen › Beheer › App connector en maak een nieuwe app connector aan, bijvoorbeeld 'Loonbrug'."),
        h("li", null, "Voeg de UpdateConnector FiEntries toe en de GetConnectors Profit_Administrations, Profit_Journals, Profit_Accounts, Profit_Allocation_Assigments, Profit_periods_per_administration en Profit_Transactions."),
        h("li", null, "Voeg een gebruiker toe en genereer een token; kopieer de token hierboven."))),
    yesNoField("Actief", "active", existing ? existing.active : true, { field: "active" }),
    h("div", { class: "actions" }, save, h("a", { class: "button secondary", href: "#/koppelingen" }, "Annuleren")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, async () => {
      clearErrors(form);
      summary.replaceChildren();
      const environment = number.value.trim() || name.value.trim();
      if (!environment) {
        showErrors(form, [{ field: "environment", detail: "Vul het omgevingsnummer (of de omgevingsnaam) in." }]);
        number.focus();
        return;
      }
      const body = { active: radioValue(form, "active") !== false };
      if (token.value.trim()) body.token = token.value.trim();
      if (name.value.trim()) body.environmentName = name.value.trim();
      try {
        const saved = await api.put(`/connections/afas-profit/${encodeURIComponent(environment)}`, body);
        flash("ok", saved.active
          ? `De koppeling met uw AFAS Profit omgeving ${saved.environmentName || saved.environment} is nu geactiveerd.`
          : `De koppeling met AFAS Profit omgeving ${saved.environmentName || saved.environment} is opgeslagen en staat op inactief.`);
        location.hash = "#/koppelingen";
      } catch (error) {
        const unplaced = showErrors(form, error.errors);
        summary.replaceChildren(problemNotice(error, unplaced));
        /** @type {HTMLElement | null} */ (form.querySelector("[aria-invalid]") || summary.querySelector(".notice"))?.focus?.();
      }
    });
  });
  add(view, form);
}

/** The customer environment (or "admin") in an SB address: the last part of its path. */
function environmentOf(address) {
  try {
    const parts = new URL(address).pathname.split("/").filter(Boolean);
    return parts.length ? decodeURIComponent(parts[parts.length - 1]) : "";
  } catch { return ""; }
}

export async function sb(ctx) {
  const { view, query } = ctx;
  const title = "AFAS SB koppeling toevoegen";
  add(view, ...pageHeader(title, [...CRUMBS, [title]]));
  if (adminOnly(ctx)) return;
  const environment = h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: query.get("omgeving") || "" });
  const address = h("input", { type: "text", inputmode: "url", autocomplete: "off", spellcheck: "false", value: query.get("adres") || "", placeholder: "https://kantoor.afasfocus.nl/mijnbedrijf/" });
  const summary = h("div");
  const start = h("button", { type: "submit" }, "Log in bij AFAS SB");
  const form = h("form", { class: "panel", novalidate: true },
    h("p", null, "Vul de naam van uw AFAS SB omgeving in, of het volledige adres als uw omgeving bij een accountant staat, en klik op 'Log in bij AFAS SB'. Geef daar toestemming met 'Ja'; de koppeling wordt dan automatisch aangemaakt en u komt terug in Loonbrug."),
    summary,
    field("Omgevingsnaam AFAS SB", environment, { field: "environment", help: "De naam uit het adres van uw AFAS SB omgeving, bijvoorbeeld mijnbedrijf. Leeg laten mag als u hieronder het adres invult." }),
    field("Adres van AFAS SB (bij een accountant)", address, { field: "apiServer", help: "Het adres zoals AFAS SB het toont, bijvoorbeeld https://kantoor.afasfocus.nl/mijnbedrijf/. Voor het Admin Center van uw kantoor: https://kantoor.afasfocus.nl/admin/. Leeg: een zelfstandige AFAS SB omgeving (afas-sb.afasfocus.nl)." }),
    h("details", null, h("summary", null, "Accountant met een Admin Center?"),
      h("p", null, "Koppel het Admin Center één keer met het adres dat eindigt op /admin/. Daarna kiest u bij elke client configuratie de klantomgeving en administratie uit een lijst; u hoeft de klantomgevingen niet apart te koppelen.")),
    h("div", { class: "actions" }, start, h("a", { class: "button secondary", href: "#/koppelingen" }, "Annuleren")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(start, async () => {
      clearErrors(form);
      summary.replaceChildren();
      const url = address.value.trim();
      const name = environment.value.trim() || (url ? environmentOf(url) : "");
      if (!name) {
        showErrors(form, [{ field: url ? "apiServer" : "environment", detail: url ? "Het adres mist de omgeving, bijvoorbeeld https://kantoor.afasfocus.nl/mijnbedrijf/." : "Vul de naam van de omgeving in." }]);
        (url ? address : environment).focus();
        return;
      }
      try {
        const answer = await api.post(`/connections/afas-sb/${encodeURIComponent(name)}`, url ? { apiServer: url } : undefined);
        leaveFor(answer.authorizeUrl, null); // AFAS SB sends the outcome back (?afas-sb=…)
      } catch (error) {
        const unplaced = showErrors(form, error.errors);
        summary.replaceChildren(problemNotice(error, unplaced));
      }
    });
  });
  add(view, form);
}
