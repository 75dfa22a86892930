// What every panel shares: the page's elements, the API, the filters in the URL, names and formats.
// Customer text is only ever set with textContent, never parsed as HTML.

import { locale, number, t, term } from "./i18n.js";

export const TOKEN_KEY = "voix.operatorToken";
export const NAME_KEY = "voix.name"; // who acknowledges from this browser, recorded with the credential's identity

export const $ = (id) => document.getElementById(id);
export const state = { config: null, chart: null, newest: null, seen: new Set(), timers: [], seq: 0 };
// what app.js provides to the panels (set once at start): reload the view, handle an error
export const hooks = { refresh: () => {}, load: async () => {}, handle: () => {}, status: () => {} };

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "width") node.style.width = value; // CSSOM: allowed by the CSP, unlike style=""
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// -- API ---------------------------------------------------------------------------------
export class SignedOut extends Error {}

export async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new SignedOut();
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, ...(options.body ? { "Content-Type": "application/json" } : {}) },
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new SignedOut();
  }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch { /* not JSON */ }
    throw Object.assign(new Error(message), { status: response.status });
  }
  if (path.endsWith(".csv") || path.includes(".csv?")) {
    return { blob: await response.blob(), truncated: response.headers.get("X-Voix-Truncated") === "true" };
  }
  return response.json();
}

// -- filters, kept in the URL so a view can be shared --------------------------------------
export function filters() {
  const q = new URLSearchParams(location.search);
  return {
    site: q.get("site") || "", period: q.get("period") || "7d", topic: q.get("topic") || "",
    nature: q.get("nature") || "", since: q.get("since") || "", until: q.get("until") || "",
    channel: q.get("channel") || "",
  };
}

export function setFilters(changes) {
  const q = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value) q.set(key, value); else q.delete(key);
  }
  history.pushState(null, "", `${location.pathname}?${q}`);
  hooks.refresh();
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) q.set(key, value);
  return q.toString();
}

// the instant a local time ("2026-11-28T00:00:00") is in time zone tz
function zoned(local, tz) {
  const guess = new Date(`${local}Z`);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: tz, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(guess).map((p) => [p.type, p.value]));
  const seen = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return new Date(guess.getTime() - (seen - guess.getTime()));
}

// days begin and end at midnight in the site's time zone, not the viewer's
export function period(f) {
  const now = new Date();
  const tz = zone(f.site);
  let since;
  let until = now;
  if (f.period === "today") {
    since = zoned(`${new Intl.DateTimeFormat("en-CA", { timeZone: tz }).format(now)}T00:00:00`, tz);
  } else if (f.period === "30d") since = new Date(now - 30 * 86400e3);
  else if (f.period === "custom" && f.since) {
    since = zoned(`${f.since}T00:00:00`, tz);
    if (f.until) until = zoned(`${f.until}T23:59:59`, tz);
  } else since = new Date(now - 7 * 86400e3);
  const days = (until - since) / 86400e3;
  return { since, until, bucket: days > 2 ? "day" : "hour" };
}

// -- names and formats -------------------------------------------------------------------
export const natures = () => state.config?.natures || [];
// natures come from /api/config; these only give the known ones a colour
const COLOURS = { complaint: "#c0392b", compliment: "#1e8449", suggestion: "#2e86c1", question: "#8e6c00",
  unclear: "#7b7d7d" };
const SPARE = ["#6c3483", "#117a65", "#a04000", "#1f618d", "#7d6608"];
export const colour = (n) => COLOURS[n] || SPARE[natures().indexOf(n) % SPARE.length];
// a nature's plural label ("Complaints"): the catalogue's, else the name capitalised
export function plural(n) {
  const known = t(`natures.${n}`);
  return known === `natures.${n}` ? `${n[0].toUpperCase()}${n.slice(1)}` : known;
}
export const topicName = (name) => term("topic", name);
export const natureName = (name) => term("nature", name);

export const pct = (part, whole) => (whole ? number(part / whole, { style: "percent" }) : "–");

export function duration(seconds) {
  if (seconds == null) return "–";
  if (seconds < 90) return t("duration.seconds", { n: number(Math.round(seconds)) });
  if (seconds < 5400) return t("duration.minutes", { n: number(Math.round(seconds / 60)) });
  return t("duration.hours", { n: number(seconds / 3600, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });
}

export function channelName(name) {
  const known = term("channel", name);
  return known !== name ? known : state.config?.channels?.[name] || name;
}

export function siteName(id) {
  if (!id || id === "unknown") return t("unknown_site");
  return state.sites?.get(id)?.name || id;
}

// the zone the numbers are read in: the site's when one is chosen, else the network's
export function zone(site) {
  return state.sites?.get(site)?.timezone || state.config?.timezone || "UTC";
}

export function maskedTime(iso, site) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "short", hourCycle: "h23",
    timeZone: zone(site) }).format(new Date(iso));
}

// a label chip: its class keeps the name (styles), its text is the reader's language
export function badge(kind, value, shown = value) {
  return el("span", { class: `badge ${kind}-${value}`, text: shown });
}

export const status = (text) => { $("status").textContent = text; };
