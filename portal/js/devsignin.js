// @ts-check
// Ontwikkel-aanmelding: development and demo only. The server serves this file only when
// LOONBRUG_ENVIRONMENT=development outside Azure; in Azure, Easy Auth signs users in.
import { config, saveDevPrincipal } from "./api.js";
import { add, clearErrors, field, h, notice, showErrors } from "./ui.js";

const ADMIN_ROLE = "Loonbrug.Admin";
const TENANT = "http://schemas.microsoft.com/identity/claims/tenantid";
const OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier";

/** The X-MS-CLIENT-PRINCIPAL value, built as shared/api/auth.encode_principal builds it. */
export function encodePrincipal({ officeId, userId, name, roles }) {
  const claims = [
    { typ: TENANT, val: officeId },
    { typ: OBJECT_ID, val: userId },
    { typ: "name", val: name },
    ...roles.map((role) => ({ typ: "roles", val: role })),
  ];
  const json = JSON.stringify({ auth_typ: "aad", name_typ: "name", role_typ: "roles", claims });
  const bytes = new TextEncoder().encode(json);
  return btoa(String.fromCharCode(...bytes));
}

export async function signIn(ctx) {
  const { view } = ctx;
  add(view, h("h1", { tabindex: "-1" }, "Ontwikkel-aanmelding"));
  if (!config().devSignIn) {
    add(view, notice("error", h("p", null, "Deze aanmelding bestaat alleen in de ontwikkelomgeving.")));
    return;
  }
  const office = h("input", { type: "text", value: "demo-office", autocomplete: "off", spellcheck: "false" });
  const name = h("input", { type: "text", value: "Demo Beheerder", autocomplete: "name" });
  const roles = h("fieldset", { class: "field", dataset: { field: "role" } }, h("legend", null, "Rol"),
    h("div", { class: "radios" },
      h("label", null, h("input", { type: "radio", name: "role", value: "beheerder", checked: true }), "Beheerder (mag wijzigen)"),
      h("label", null, h("input", { type: "radio", name: "role", value: "lezer" }), "Lezer (alleen bekijken)")));
  const form = h("form", { class: "panel", novalidate: true },
    field("Kantoor (office id)", office, { field: "officeId", help: "Letters, cijfers en -; alle gegevens horen bij één kantoor." }),
    field("Naam", name, { field: "name" }),
    roles,
    h("button", { type: "submit" }, "Aanmelden"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearErrors(form);
    const errors = [];
    const officeId = office.value.trim();
    if (!/^[A-Za-z0-9-]{1,64}$/.test(officeId)) errors.push({ field: "officeId", detail: "Gebruik alleen letters, cijfers en - (maximaal 64 tekens)." });
    if (!name.value.trim()) errors.push({ field: "name", detail: "Vul een naam in." });
    if (errors.length) { showErrors(form, errors); /** @type {HTMLElement} */ (form.querySelector("[aria-invalid]")).focus(); return; }
    const role = /** @type {HTMLInputElement} */ (form.querySelector("input[name=role]:checked")).value;
    const userId = `dev-${name.value.trim().toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
    const principal = { officeId, name: name.value.trim(), role, userId, header: "" };
    principal.header = encodePrincipal({ ...principal, roles: role === "beheerder" ? [ADMIN_ROLE] : [] });
    saveDevPrincipal(principal);
    const next = sessionStorage.getItem("loonbrug.after-sign-in") || "#/runs";
    sessionStorage.removeItem("loonbrug.after-sign-in");
    location.hash = next;
  });
  add(view, 
    notice("warning",
      h("p", null, h("strong", null, "Alleen voor ontwikkeling en demo.")),
      h("p", null, "Hier kiest u zelf een kantoor, naam en rol; het portaal stuurt die als aanmeldgegevens mee. In productie meldt u zich aan met uw Microsoft-account en bestaat deze pagina niet.")),
    form);
}
