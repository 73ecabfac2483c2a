// @ts-check
// The management API, as the signed-in user. In Azure the Easy Auth cookie signs every call;
// with the development sign-in the chosen principal travels as X-MS-CLIENT-PRINCIPAL.

const DEV_KEY = "loonbrug.devPrincipal";

/**
 * The page's configuration (index.html's #portal-config, filled in by the API).
 * @typedef {{devSignIn: boolean, apiBase: string, user?: {name: string, officeId: string, isAdmin: boolean} | null,
 *   signInUrl?: string, signOutUrl?: string}} PortalConfig
 */
/** A development principal: who the dev sign-in plays, and the header that says so. */
/** @typedef {{header: string, name: string, officeId: string, role: string}} DevPrincipal */

/** @type {PortalConfig | null} */
let configCache = null;
/** @returns {PortalConfig} */
export function config() {
  if (!configCache) {
    const node = document.getElementById("portal-config");
    configCache = node ? JSON.parse(node.textContent || "null") : { devSignIn: false, apiBase: "/api" };
  }
  return /** @type {PortalConfig} */ (configCache);
}

/** @returns {DevPrincipal | null} */
export function devPrincipal() {
  if (!config().devSignIn) return null; // never outside development, whatever the storage holds
  try {
    const stored = JSON.parse(localStorage.getItem(DEV_KEY) || "null");
    return stored && stored.header ? stored : null;
  } catch {
    return null;
  }
}

/** @param {DevPrincipal} principal */
export function saveDevPrincipal(principal) {
  localStorage.setItem(DEV_KEY, JSON.stringify(principal));
}

export function forgetDevPrincipal() {
  localStorage.removeItem(DEV_KEY);
}

/** @type {Record<number, string>} */
const FALLBACK = {
  0: "Loonbrug is niet bereikbaar. Controleer uw verbinding en probeer het opnieuw.",
  401: "U bent niet (meer) aangemeld. Meld u opnieuw aan.",
  403: "U mag dit niet wijzigen: daarvoor is de rol Loonbrug-beheerder nodig.",
  404: "Dit item bestaat niet (meer).",
  409: "Dit kan nu niet; de koppeling is niet in orde.",
  413: "Het verzoek is te groot.",
  429: "Te veel verzoeken tegelijk. Probeer het over een minuut opnieuw.",
};

/** A refused or failed call: the problem details' Dutch detail, hint and field errors. */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status; 0 when Loonbrug was not reachable
   * @param {any} body the problem+json body, if any
   */
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
    /** @type {import("./ui.js").FieldError[]} */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.type = problem.type || "";
    this.incident = problem.incident || "";
  }
}

/**
 * One HTTP call with the sign-in: answers the Response; throws ApiError(0) when unreachable.
 * @param {string} method
 * @param {URL} url
 * @param {{body?: unknown, headers?: Record<string, string>, accept?: string}} options
 * @returns {Promise<Response>}
 */
async function send(method, url, { body, headers = {}, accept }) {
  /** @type {Record<string, string>} */
  const sent = { Accept: accept || "application/json, application/problem+json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const principal = devPrincipal();
  if (principal) sent["X-MS-CLIENT-PRINCIPAL"] = principal.header;
  const early = method === "GET" && body === undefined ? takeEarly(url.href) : undefined;
  try {
    if (early) return await early;
    return await fetch(url, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, null);
  }
}

/**
 * An answer early.js asked for before the modules had loaded (same URL, same sign-in), taken
 * once. dropEarly() forgets those not taken (main.js, after the first screen).
 * @param {string} href
 * @returns {Promise<Response> | undefined}
 */
function takeEarly(href) {
  const early = /** @type {{loonbrugEarly?: Record<string, Promise<Response>>}} */ (/** @type {unknown} */ (window)).loonbrugEarly;
  const answer = early?.[href];
  if (early && answer) delete early[href];
  return answer;
}

export function dropEarly() {
  delete /** @type {{loonbrugEarly?: unknown}} */ (/** @type {unknown} */ (window)).loonbrugEarly;
}

/** @param {Response} response @returns {Promise<ApiError>} */
async function failure(response) {
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (response.status === 401) window.dispatchEvent(new CustomEvent("loonbrug:signed-out"));
  return new ApiError(response.status, data);
}

/**
 * Call the API: answers {data, headers, status}; throws ApiError with the Dutch problem details.
 * @param {string} method
 * @param {string} path below the API base, e.g. "/clients"
 * @param {{body?: unknown, query?: Record<string, string | number | null | undefined>, headers?: Record<string, string>}} [options]
 * @returns {Promise<{data: any, headers: Headers, status: number}>}
 */
export async function request(method, path, { body, query, headers = {} } = {}) {
  const url = new URL(config().apiBase + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const response = await send(method, url, { body, headers });
  if (!response.ok) throw await failure(response);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  return { data, headers: response.headers, status: response.status };
}

/**
 * Download a file the API serves (href: a path below the API, as the API lists it) and save it.
 * The file is fetched with the sign-in (the Easy Auth cookie, or the dev principal header that a
 * plain link would not send) and handed to the browser through a Blob URL. Answers the file name.
 * @param {string} href
 * @param {string} [fallbackName]
 * @returns {Promise<string>}
 */
export async function download(href, fallbackName = "download") {
  const url = new URL(href.startsWith("/") ? href : config().apiBase + "/" + href, location.origin);
  if (url.origin !== location.origin) throw new ApiError(404, null); // only our own API
  const response = await send("GET", url, { accept: "*/*" });
  if (!response.ok) throw await failure(response);
  const disposition = response.headers.get("content-disposition") || "";
  const name = (disposition.match(/filename="?([^";]+)"?/) || [])[1] || fallbackName;
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return name;
}

/** Shorthands that answer the body only. */
export const api = {
  /** @type {(path: string, query?: Record<string, string | number | null | undefined>) => Promise<any>} */
  get: async (path, query) => (await request("GET", path, { query })).data,
  /** @type {(path: string, body?: unknown) => Promise<any>} */
  post: async (path, body) => (await request("POST", path, { body })).data,
  /** @type {(path: string, body?: unknown, headers?: Record<string, string>) => Promise<any>} */
  put: async (path, body, headers) => (await request("PUT", path, { body, headers })).data,
  /** @type {(path: string) => Promise<any>} */
  del: async (path) => (await request("DELETE", path)).data,
};
