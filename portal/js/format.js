// @ts-check
// Formatting for the screens, Dutch and in Europe/Amsterdam: money, dates, periods. Pure (no DOM),
// so Node's test runner imports it as the browser does (tests/portal/); ui.js re-exports it.

const stamp = new Intl.DateTimeFormat("nl-NL", {
  timeZone: "Europe/Amsterdam", day: "2-digit", month: "2-digit", year: "numeric",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

/**
 * "2022-08-05T11:58:00Z" → "05-08-2022 13:58"
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function dateTime(iso) {
  if (!iso) return "—";
  const parts = Object.fromEntries(stamp.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.day}-${parts.month}-${parts.year} ${parts.hour}:${parts.minute}`;
}

/**
 * "2022-08-05" → "05-08-2022"
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function date(iso) {
  if (!iso) return "—";
  const [y, m, d] = iso.slice(0, 10).split("-");
  return `${d}-${m}-${y}`;
}

/**
 * A date as a person types it → "2024-02-29" (ISO, for the API), or null when it is no date.
 * Takes dd-mm-jjjj (also d-m-jjjj, with / or . between) and, for pasted values, jjjj-mm-dd.
 * @param {unknown} text
 * @returns {string | null}
 */
export function parseDate(text) {
  const value = String(text ?? "").trim();
  let match = value.match(/^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/);
  let [d, m, y] = match ? [match[1], match[2], match[3]] : [];
  if (!match) {
    match = value.match(/^(\d{4})-(\d{2})-(\d{2})$/);
    if (!match) return null;
    [y, m, d] = [match[1], match[2], match[3]];
  }
  const day = Number(d), month = Number(m), year = Number(y);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (year < 1900 || probe.getUTCFullYear() !== year || probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) return null;
  return `${y}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** "2020-3" → "2020 - 3" @type {(text: string | null | undefined) => string} */
export const period = (text) => (text || "").replace("-", " - ");

/**
 * A decimal string ("12345.6") as Dutch money ("12.345,60"), exact (no floating point).
 * @param {string | number | null | undefined} text
 * @returns {string}
 */
export function money(text) {
  let value = String(text ?? "0").trim();
  const negative = value.startsWith("-");
  if (negative) value = value.slice(1);
  let [whole, fraction = ""] = value.split(".");
  fraction = (fraction + "00").slice(0, Math.max(2, fraction.length));
  whole = whole.replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  return `${negative ? "-" : ""}${whole},${fraction}`;
}

/** @type {(value: unknown) => string} */
export const yesNo = (value) => (value ? "Ja" : "Nee");
