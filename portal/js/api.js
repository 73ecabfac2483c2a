// The management API, as the signed-in user. In Azure the Easy Auth cookie signs every call;
// with the development sign-in the chosen principal travels as X-MS-CLIENT-PRINCIPAL.

const DEV_KEY = "loonbrug.devPrincipal";

let configCache = null;
export function config() {
  if (!configCache) {
    const node = document.getElementById("portal-config");
    configCache = node ? JSON.parse(node.textContent) : { devSignIn: false, apiBase: "/api" };
  }
  return configCache;
}

export function devPrincipal() {
  if (!config().devSignIn) return null; // never outside development, whatever the storage holds
  try {
    const stored = JSON.parse(localStorage.getItem(DEV_KEY) || "null");
    return stored && stored.header ? stored : null;
  } catch {
    return null;
  }
}

export function saveDevPrincipal(principal) {
  localStorage.setItem(DEV_KEY, JSON.stringify(principal));
}

export function forgetDevPrincipal() {
  localStorage.removeItem(DEV_KEY);
}

const FALLBACK = {
  0: "Loonbrug is niet bereikbaar. Controleer uw verbinding en probeer het opnieuw.",
  401: "U bent niet (meer) aangemeld. Meld u opnieuw aan.",
  403: "U mag dit niet wijzigen: daarvoor is de rol Loonbrug-beheerder nodig.",
  404: "Dit item bestaat niet (meer).",
  409: "Dit kan nu niet; de koppeling is niet in orde.",
  413: "Het verzoek is te groot.",
  429: "Te veel verzoeken tegelijk. Probeer het over een minuut opnieuw.",
};

export class ApiError extends Error {
  constructor(status, body) {
    const problem = body && typeof body === "object" ? body : {};
    const detail =
      problem.detail ||
      FALLBACK[status] ||
      `Er ging iets mis aan de kant van Loonbrug (status ${status}). Probeer het later opnieuw.`;
    super(detail);
    this.status = status;
    this.detail = detail;
    this.hint = problem.hint || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.type = problem.type || "";
    this.incident = problem.incident || "";
  }
}

/** Call the API: answers {data, headers}; throws ApiError with the Dutch problem details. */
export async function request(method, path, { body, query, headers = {} } = {}) {
  const url = new URL(config().apiBase + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const sent = { Accept: "application/json, application/problem+json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const principal = devPrincipal();
  if (principal) sent["X-MS-CLIENT-PRINCIPAL"] = principal.header;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, null);
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("loonbrug:signed-out"));
    throw error;
  }
  return { data, headers: response.headers, status: response.status };
}

export const api = {
  get: async (path, query) => (await request("GET", path, { query })).data,
  post: async (path, body) => (await request("POST", path, { body })).data,
  put: async (path, body, headers) => (await request("PUT", path, { body, headers })).data,
  del: async (path) => (await request("DELETE", path)).data,
};
