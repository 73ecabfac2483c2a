// @ts-check
// Runs before the module graph has loaded (a plain script in the head, no imports): when the page
// opens on the Runs overzicht, ask the API for the runs and the connections straight away, so
// the answers are on their way while main.js, ui.js and runs.js are still being fetched.
// api.js takes these answers (once, matched on the exact URL, with the same sign-in header) and
// main.js drops any that were not taken after the first screen, so they can never go stale.
(() => {
  try {
    const node = document.getElementById("portal-config");
    const config = node ? JSON.parse(node.textContent || "null") : null;
    if (!config) return;
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json, application/problem+json" };
    if (config.devSignIn) {
      const principal = JSON.parse(localStorage.getItem("loonbrug.devPrincipal") || "null");
      if (!principal || !principal.header) return; // the sign-in page comes first
      headers["X-MS-CLIENT-PRINCIPAL"] = principal.header;
    } else if (!config.user) {
      return;
    }
    const raw = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
    const [path, search = ""] = raw.split("?");
    if (path.replace(/\/$/, "") !== "runs" && path !== "") return;
    if (sessionStorage.getItem("loonbrug.return")) return; // back from a consent: another screen
    const query = new URLSearchParams(search);
    // The query exactly as runs.js asks it (same names, same order, empty ones left out).
    const page = Math.max(1, Number(query.get("pagina") || "1") || 1);
    /** @type {Array<[string, string]>} */
    const wanted = [
      ["type", query.get("type") || ""], ["clientId", query.get("client") || ""],
      ["limit", query.get("aantal") || "10"], ["page", String(page)], ["q", query.get("zoek") || ""],
    ];
    const runs = new URL(`${config.apiBase}/runs`, location.origin);
    for (const [name, value] of wanted) if (value) runs.searchParams.set(name, value);
    const connections = new URL(`${config.apiBase}/connections`, location.origin);
    /** @type {(url: URL) => Promise<Response>} */
    const ask = (url) => fetch(url, { headers, credentials: "same-origin", cache: "no-store" });
    // Both at once (in a row was not quicker: 138-187 ms warm against 120-137 ms, same machine).
    const first = ask(runs);
    const second = ask(connections);
    first.catch(() => {}); // api.js reports a failure when it takes the answer
    second.catch(() => {});
    /** @type {Record<string, Promise<Response>>} */
    const early = { [runs.href]: first, [connections.href]: second };
    /** @type {any} */ (window).loonbrugEarly = early;
  } catch {
    // Nothing fetched early: the Runs page asks for itself, as on every other screen.
  }
})();
