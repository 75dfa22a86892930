// Voix dashboard: plain JavaScript, no build step, no CDN. Customer text is only ever
// set with textContent, never parsed as HTML.

import { caseIsOpen, initCasePage, route as routeCase, stopCase } from "./case.js";
import { adminIsOpen, initAdmin, route as routeAdmin } from "./admin.js";
import { decorate, initCorrections, quality } from "./corrections.js";
import { initIncidents } from "./incidents.js";

const TOKEN_KEY = "voix.operatorToken";
const NAME_KEY = "voix.name"; // who acknowledges from this browser, recorded with the credential's identity
// natures come from /api/config; these only give the known ones a colour and a plural label
const COLOURS = { complaint: "#c0392b", compliment: "#1e8449", suggestion: "#2e86c1", question: "#8e6c00",
  unclear: "#7b7d7d" };
const SPARE = ["#6c3483", "#117a65", "#a04000", "#1f618d", "#7d6608"];
const PLURALS = { complaint: "Complaints", compliment: "Compliments", suggestion: "Suggestions",
  question: "Questions", unclear: "Unclear (no evidence)" };
const LIVE_MS = 1000;
const REFRESH_MS = 15000;
const LOADING_MS = 200; // an answer slower than this shows the loading sign

const $ = (id) => document.getElementById(id);
const state = { config: null, chart: null, newest: null, seen: new Set(), timers: [], seq: 0 };
const locale = () => navigator.language || "en-GB";
const natures = () => state.config?.natures || [];
const colour = (n) => COLOURS[n] || SPARE[natures().indexOf(n) % SPARE.length];
const plural = (n) => PLURALS[n] || `${n[0].toUpperCase()}${n.slice(1)}`;

function el(tag, attrs = {}, ...children) {
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
class SignedOut extends Error {}

async function api(path, options = {}) {
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
function filters() {
  const q = new URLSearchParams(location.search);
  return {
    site: q.get("site") || "", period: q.get("period") || "7d", topic: q.get("topic") || "",
    nature: q.get("nature") || "", since: q.get("since") || "", until: q.get("until") || "",
  };
}

function setFilters(changes) {
  const q = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value) q.set(key, value); else q.delete(key);
  }
  history.pushState(null, "", `${location.pathname}?${q}`);
  refresh();
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
function period(f) {
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

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) q.set(key, value);
  return q.toString();
}

// -- rendering -------------------------------------------------------------------------------
const pct = (part, whole) => (whole ? `${Math.round((100 * part) / whole)}%` : "–");

function duration(seconds) {
  if (seconds == null) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function siteName(id) {
  if (!id || id === "unknown") return "Unknown site";
  return state.sites?.get(id)?.name || id;
}

// the zone the numbers are read in: the site's when one is chosen, else the network's
function zone(site) {
  return state.sites?.get(site)?.timezone || state.config?.timezone || "UTC";
}

function maskedTime(iso, site) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "short", hourCycle: "h23",
    timeZone: zone(site) }).format(new Date(iso));
}

function renderNatureKpis() {
  // one headline figure per nature the configuration knows, before "Urgent"
  for (const old of document.querySelectorAll(".kpi.nature")) old.remove();
  $("k-urgent").parentElement.before(...natures().map((n) => el("div", { class: "kpi nature" },
    el("span", { class: "label", text: plural(n).replace(/ \(.*\)$/, "") }), el("strong", { id: `k-${n}`, text: "–" }))));
}

function renderKpis(metrics, openCount) {
  const t = metrics.totals;
  $("k-messages").textContent = t.messages.toLocaleString(locale());
  for (const nature of natures()) $(`k-${nature}`).textContent = pct(t.nature[nature] || 0, t.messages);
  $("k-urgent").textContent = t.urgency.high.toLocaleString();
  $("k-open").textContent = openCount;
  $("k-ack").textContent = duration(t.median_seconds_to_acknowledge);
}

function buckets(since, until, bucket) {
  // Every bucket of the period, so that quiet hours show as zero rather than vanish.
  const step = bucket === "day" ? 86400e3 : 3600e3;
  const start = new Date(since);
  if (bucket === "day") start.setUTCHours(0, 0, 0, 0); else start.setUTCMinutes(0, 0, 0);
  const out = [];
  for (let t = start.getTime(); t <= until.getTime() && out.length < 2000; t += step) out.push(t / 1000);
  return out;
}

// x-axis labels: the viewer's locale, 24-hour times, the site's time zone. Daily buckets are UTC
// days (as the API counts them): they are named by their middle, the same date in any European zone.
function tickFormat(bucket, tz) {
  const f = bucket === "day"
    ? new Intl.DateTimeFormat(locale(), { day: "numeric", month: "short", timeZone: tz })
    : new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz });
  return (t) => f.format(new Date((bucket === "day" ? t + 43200 : t) * 1000));
}

const HOUR_STEPS = [1, 2, 3, 4, 6, 8, 12, 24];
const DAY_STEPS = [1, 2, 3, 7, 14, 28];
let measurer;
function textWidth(text) {
  measurer ??= document.createElement("canvas").getContext("2d");
  measurer.font = `12px ${getComputedStyle(document.body).fontFamily || "sans-serif"}`; // as .x-label
  return measurer.measureText(text).width;
}

// One tick per bucket when they fit, else every k-th: hours on local multiples of k, days every k days.
function ticks(xs, bucket, tz, plotWidth) {
  if (!xs.length) return [];
  const name = tickFormat(bucket, tz);
  const widest = Math.max(...xs.slice(0, 48).map((x) => textWidth(name(x))));
  const per = plotWidth / xs.length;
  const steps = bucket === "day" ? DAY_STEPS : HOUR_STEPS;
  const k = steps.find((s) => s * per >= widest + 14) || Math.ceil((widest + 14) / per);
  if (bucket === "day") return xs.filter((_, i) => (xs.length - 1 - i) % k === 0); // the latest day always named
  const hour = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hourCycle: "h23", timeZone: tz });
  return xs.filter((x) => Number(hour.format(new Date(x * 1000))) % k === 0);
}

function placeLabels(u, marks, name) {
  // the labels are text in the page (readable, measurable), under the plot at each tick
  const holder = u.root.querySelector(".x-labels") || el("div", { class: "x-labels", "aria-hidden": "true" });
  u.over.parentNode.append(holder);
  holder.replaceChildren(...marks.map((t) => {
    const label = el("span", { class: "x-label", "data-t": String(t), text: name(t) });
    label.style.left = `${u.over.offsetLeft + u.valToPos(t, "x")}px`;
    label.style.top = `${u.over.offsetTop + u.over.offsetHeight + 4}px`;
    return label;
  }));
}

function renderChart(metrics, since, until, site) {
  const box = $("chart");
  const byTime = new Map(metrics.series.map((p) => [Date.parse(p.t.length === 10 ? `${p.t}T00:00:00Z` : p.t) / 1000, p]));
  const xs = buckets(since, until, metrics.bucket);
  const list = natures();
  const raw = list.map((n) => xs.map((x) => byTime.get(x)?.nature[n] || 0));
  const stacked = raw.map((_, i) => xs.map((__, j) => raw.slice(0, i + 1).reduce((sum, s) => sum + s[j], 0)));
  const order = [...list.keys()].reverse(); // draw the tallest first, smaller ones over it
  const data = [xs, ...order.map((i) => stacked[i])];
  const width = Math.max(280, box.clientWidth - 8);
  const tz = zone(site);
  const name = tickFormat(metrics.bucket, tz);
  const full = new Intl.DateTimeFormat(locale(), metrics.bucket === "day"
    ? { dateStyle: "medium", timeZone: tz } : { dateStyle: "medium", timeStyle: "short", hourCycle: "h23", timeZone: tz });
  let marks = [];
  const half = (metrics.bucket === "day" ? 86400 : 3600) / 2;
  const opts = {
    width, height: 240,
    scales: { x: { time: false, range: () => [xs[0] - half, xs[xs.length - 1] + half] },
      y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [{
      size: 28,
      // gridlines on the buckets themselves: hourly lines for hourly bars, daily for daily ones
      splits: (u) => (marks = ticks(xs, metrics.bucket, tz, u.bbox.width / devicePixelRatio)),
      values: (u, splits) => splits.map(() => ""),
    }, { size: 60 }],
    series: [{ label: metrics.bucket === "day" ? "Day" : "Hour",
      value: (u, v) => (v == null ? "–" : full.format(new Date((metrics.bucket === "day" ? v + 43200 : v) * 1000))) },
    ...order.map((i) => ({
      label: plural(list[i]), fill: colour(list[i]), stroke: colour(list[i]),
      paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false },
      value: (u, v, si, idx) => (idx == null ? "–" : raw[order[si - 1]][idx]),
    }))],
    hooks: { draw: [(u) => placeLabels(u, marks, name)] },
  };
  state.chart?.destroy();
  box.replaceChildren();
  box.dataset.bucket = metrics.bucket;
  box.dataset.timezone = tz;
  box.dataset.since = since.toISOString();
  if (!metrics.series.length) {
    box.append(el("p", { class: "muted", text: "No messages in this period." }));
    state.chart = null;
    return;
  }
  state.chart = new uPlot(opts, data, box);
}

function renderBars(list, counts, onPick, labelOf) {
  const entries = Object.entries(counts).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  list.replaceChildren(...entries.map(([key, value]) => el("li", {},
    el("button", { type: "button", class: "bar", onclick: () => onPick(key), "aria-label": `${labelOf(key)}: ${value}` },
      el("span", { class: "bar-label", text: labelOf(key) }),
      el("span", { class: "bar-track" }, el("span", { class: "bar-fill", width: `${(100 * value) / max}%` })),
      el("span", { class: "bar-value", text: value.toLocaleString() })))));
  if (!entries.length) list.append(el("li", { class: "muted", text: "Nothing yet." }));
}

// -- many sites: the busiest and the quietest, any other through the site picker --------------
const EDGE = 10; // sites shown at each end when there are more than twice as many

const number = (n) => n.toLocaleString(locale());
const complaints = (n) => `${number(n)} complaint${n === 1 ? "" : "s"}`;

function siteNote(id, shown, total, idle, ranked = null) {
  const note = $(id);
  note.hidden = !shown;
  if (!shown) return;
  const asOf = ranked?.as_of ? ` (ranked at ${new Date(ranked.as_of).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" })})` : "";
  note.replaceChildren(
    ranked && !ranked.as_of ? `Sites are ranked every hour, not yet for this period`
      : `The ${EDGE} busiest and the ${EDGE} quietest of ${number(total)} sites with messages, by messages${asOf}`,
    ...(idle ? [`; ${number(idle)} had none`] : []), ". Any other: ",
    el("button", { type: "button", class: "link", onclick: () => openPicker(), text: "find a site" }), ".");
}

// a large network: the API lists the sites its hourly ranking chose (sites_ranked), with the period's figures
function rankedEnds(metrics) {
  const r = metrics.sites_ranked;
  const row = (x) => ({ id: x.site, messages: metrics.totals.site[x.site] || 0,
    complaints: metrics.sites?.[x.site]?.nature?.complaint || 0 });
  return { top: r.top.map(row), bottom: r.bottom.map(row), between: Math.max(0, r.of - r.top.length - r.bottom.length) };
}

// sites by messages, most first (then most complaints, then by name): both ends when there are many
function edges(rows) {
  const sorted = [...rows].sort((a, b) => b.messages - a.messages || b.complaints - a.complaints
    || siteName(a.id).localeCompare(siteName(b.id), locale()));
  if (sorted.length <= 2 * EDGE) return null;
  return { top: sorted.slice(0, EDGE), bottom: sorted.slice(-EDGE), between: sorted.length - 2 * EDGE };
}

function renderSiteBars(metrics) {
  const pick = (site) => setFilters({ site: site === "unknown" ? "" : site });
  const ranked = metrics.sites_ranked;
  const rows = Object.entries(metrics.totals.site).filter(([, v]) => v > 0)
    .map(([id, messages]) => ({ id, messages, complaints: metrics.sites?.[id]?.nature?.complaint || 0 }));
  const ends = ranked ? rankedEnds(metrics) : edges(rows);
  const list = $("sites");
  list.classList.toggle("condensed", Boolean(ends));
  siteNote("sites-note", Boolean(ends), ranked ? ranked.of : rows.length,
    ranked ? ranked.sites - ranked.of : (state.config?.sites.length || 0) - rows.length, ranked);
  if (!ends) {
    renderBars(list, metrics.totals.site, pick, siteName);
    return;
  }
  const max = Math.max(1, ...ends.top.map((r) => r.messages));
  const bar = (r) => el("li", {},
    el("button", { type: "button", class: "bar", onclick: () => pick(r.id), "data-site": r.id,
      "aria-label": `${siteName(r.id)}: ${number(r.messages)} messages, ${complaints(r.complaints)}` },
    el("span", { class: "bar-label", text: siteName(r.id), title: siteName(r.id) }),
    el("span", { class: "bar-track" }, el("span", { class: "bar-fill", width: `${(100 * r.messages) / max}%` },
      el("span", { class: "bar-complaints", width: `${(100 * r.complaints) / Math.max(1, r.messages)}%` }))),
    el("span", { class: "bar-value", text: number(r.messages) }),
    el("span", { class: "bar-extra", text: r.complaints ? complaints(r.complaints) : "" })));
  list.replaceChildren(
    el("li", { class: "bars-group", text: `Busiest ${EDGE}` }), ...ends.top.map(bar),
    el("li", { class: "bars-gap", text: `… ${number(ends.between)} sites between …` }),
    el("li", { class: "bars-group", text: `Quietest ${EDGE}` }), ...ends.bottom.map(bar));
}

function badge(kind, value) {
  return el("span", { class: `badge ${kind}-${value}`, text: value });
}

function feedItem(m) {
  const site = filters().site; // one zone down the list: the view's (the site's, else the network's)
  return decorate(el("li", { class: `item${m.urgency === "high" ? " urgent" : ""}`, "data-id": m.id },
    el("div", { class: "meta" },
      badge("site", siteName(m.site)), badge("topic", m.topic), badge("nature", m.nature),
      ...(m.urgency === "high" ? [badge("urgency", "urgent")] : []),
      el("span", { class: "who", text: m.from || "" }),
      el("time", { datetime: m.received_at, text: maskedTime(m.received_at, site) })),
    el("p", { class: "text", text: m.text })), m); // + its "Correct" control (corrections.js)
}

const FEED_SIZE = 60; // messages kept on screen

function renderFeed(items, replace) {
  const list = $("feed");
  const fresh = items.filter((m) => !state.seen.has(m.id));
  for (const m of fresh) state.seen.add(m.id);
  const nodes = fresh.map(feedItem);
  if (replace) list.replaceChildren(...nodes); else list.prepend(...nodes);
  while (list.children.length > FEED_SIZE) list.lastChild.remove();
  if (items.length && (!state.newest || items[0].received_at > state.newest)) state.newest = items[0].received_at;
}

function promise(c) {
  const left = (Date.parse(c.promised_at) - Date.now()) / 1000;
  const level = c.escalation_level ? ` · escalated ×${c.escalation_level}` : "";
  return el("span", { class: left < 0 ? "due overdue" : "due",
    text: left < 0 ? `overdue by ${duration(-left)}${level}` : `due in ${duration(left)}${level}` });
}

// "Only mine": the open cases assigned to the name typed in "Your name" (none typed: every case)
const mine = () => ($("mine").checked ? $("who").value.trim() : "");

function renderCases(cases) {
  // in the API's order: most urgent first, then the soonest due (overdue ones first), then the oldest
  const list = $("cases");
  list.replaceChildren(...cases.map((c) => el("li", {
    class: `case${c.urgency === "high" ? " urgent" : ""}${c.overdue ? " overdue" : ""}`, "data-id": c.id },
    el("div", { class: "meta" },
      badge("site", siteName(c.site)), badge("topic", c.topic), badge("nature", c.nature),
      ...(c.urgency === "high" ? [badge("urgency", "urgent")] : []),
      ...(c.overdue ? [badge("state", "overdue")] : []),
      el("span", { class: "who", text: c.customer || "" }),
      el("span", { class: "age", text: `open ${duration((Date.now() - Date.parse(c.created_at)) / 1000)}` }),
      ...(c.promised_at ? [promise(c)] : []),
      ...(c.code ? [el("span", { class: "code", text: `code ${c.code}` })] : []),
      ...(c.assignee ? [el("span", { class: "assignee", text: `assigned to ${c.assignee}` })] : [])),
    el("p", { class: "text", text: c.text }),
    el("p", { class: "alerted", text: `Alerted: ${c.alerts.map((a) => `${a.to} (${a.status})`).join(", ") || "nobody"}` }),
    el("div", { class: "actions" },
      el("a", { class: "open-case", href: `#case=${encodeURIComponent(c.id)}`, "data-case": c.id,
        "aria-label": `Open case ${c.code || c.id}`, text: "Open" }),
      el("button", { type: "button", onclick: () => act(c.id, "ack"), "aria-label": `Acknowledge case ${c.id}`, text: "Acknowledge" }),
      el("button", { type: "button", class: "secondary", onclick: () => act(c.id, "resolve"), "aria-label": `Resolve case ${c.id}`, text: "Resolve" })))));
  if (!cases.length) list.append(el("li", { class: "muted", text: mine() ? `No open case assigned to ${mine()}.` : "No open case." }));
}

function renderScorecards(current, previous) {
  const body = $("scorecards").querySelector("tbody");
  const ranked = current.sites_ranked;
  let rows = Object.entries(current.sites).filter(([, s]) => s.messages > 0);
  const ends = ranked ? rankedEnds(current)
    : edges(rows.map(([id, s]) => ({ id, messages: s.messages, complaints: s.nature.complaint || 0 })));
  siteNote("score-note", Boolean(ends), ranked ? ranked.of : rows.length,
    ranked ? ranked.sites - ranked.of : (state.config?.sites.length || 0) - rows.length, ranked);
  if (ends) {
    rows = [...ends.top, null, ...ends.bottom].map((r) => (r ? [r.id, current.sites[r.id]] : null))
      .filter((row) => !row || row[1]); // a ranked site without messages in this period has no row
  }
  body.replaceChildren(...rows.map((row) => {
    if (!row) return el("tr", { class: "gap" }, el("td", { colspan: "7", text: `… ${number(ends.between)} sites between: `
      + "find one with the site picker to see its scorecard" }));
    const [id, s] = row;
    const before = previous.sites[id];
    const ratio = (x) => (x && x.nature.complaint ? x.nature.compliment / x.nature.complaint : null);
    const now = ratio(s);
    const then = ratio(before);
    let trend = "–";
    if (now != null && then != null) {
      // the change of the compliments-per-complaint ratio, in per cent of the previous period's
      const change = then ? Math.round((100 * (now - then)) / then) : null;
      const figure = change == null ? `${now - then >= 0 ? "+" : "−"}${Math.abs(now - then).toFixed(2)}`
        : `${change > 0 ? "+" : change < 0 ? "−" : "±"}${Math.abs(change)}%`;
      trend = now > then ? `▲ ${figure} better` : now < then ? `▼ ${figure} worse` : "= same";
    }
    const ack = s.median_seconds_to_acknowledge;
    return el("tr", {},
      el("th", { scope: "row", text: siteName(id) }), el("td", { text: s.messages }),
      el("td", { text: s.nature.compliment }), el("td", { text: s.nature.complaint }),
      el("td", { text: now == null ? "–" : now.toFixed(2) }), el("td", { class: "trend", text: trend }),
      el("td", { text: duration(ack) }));
  }));
}

function renderCrumbs(f) {
  const crumbs = [[state.config.deployment || "Network", { site: "", topic: "" }]];
  if (f.site) crumbs.push([siteName(f.site), { topic: "" }]);
  if (f.topic) crumbs.push([f.topic, {}]);
  $("crumbs").replaceChildren(...crumbs.map(([label, change], i) => el("li", {},
    i === crumbs.length - 1 ? el("span", { "aria-current": "page", text: label })
      : el("a", { href: "#", onclick: (e) => { e.preventDefault(); setFilters(change); }, text: label }))));
  $("scope").textContent = f.nature ? `${f.nature}s` : "";
}

// -- surveys: what was sent, and what quiet hours hold --------------------------------------
const SURVEY_SITES_MAX = 12; // the whole network's surveys are read site by site, up to this many sites

function heldText(held) {
  const until = new Intl.DateTimeFormat(locale(), { weekday: "short", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZone: held.timezone }).format(new Date(held.until));
  return `${held.count.toLocaleString(locale())} held by quiet hours until ${until} (${held.timezone.split("/").pop()
    .replace("_", " ")} time)`;
}

function renderSurveys(reports) {
  const rows = reports.flatMap((r) => r.surveys).slice(0, 20);
  $("surveys").replaceChildren(...rows.map((s) => el("li", { class: `survey${s.held ? " held" : ""}`, "data-id": s.id },
    el("div", { class: "meta" }, badge("site", siteName(s.site)), el("strong", { text: s.name }),
      el("span", { text: `${s.sent.toLocaleString(locale())} of ${s.recipients.toLocaleString(locale())} sent` }),
      el("span", { text: s.response_rate == null ? "" : `${Math.round(100 * s.response_rate)}% answered` })),
    ...(s.held ? [el("p", { class: "held-note", text: heldText(s.held) })] : []))));
  if (!rows.length) $("surveys").append(el("li", { class: "muted", text: "No survey sent." }));
}

async function surveys(site) {
  const sites = site ? [site] : state.config.sites.map((s) => s.id);
  if (sites.length > SURVEY_SITES_MAX) return { reports: [], tooMany: true };
  return { reports: await Promise.all(sites.map((id) => api(`/api/surveys?${query({ site: id })}`))) };
}

// -- loading: a slow answer shows a sign; an answer to an older view never replaces a newer one --
function loading(seq, background) {
  const main = $("main");
  main.setAttribute("aria-busy", "true");
  return setTimeout(() => {
    if (seq !== state.seq) return;
    $("loading").hidden = false;
    if (!background) main.classList.add("stale"); // the numbers on screen are not those of the view asked for
  }, LOADING_MS);
}

function loaded(timer) {
  clearTimeout(timer);
  $("loading").hidden = true;
  $("main").classList.remove("stale");
  $("main").removeAttribute("aria-busy");
}

// -- data ------------------------------------------------------------------------------------
async function load(background = false) {
  const seq = ++state.seq;
  const timer = loading(seq, background);
  try {
    await render(seq);
  } finally {
    if (seq === state.seq) loaded(timer); else clearTimeout(timer);
  }
}

async function render(seq) {
  const f = filters();
  if (f.period === "today" || f.period === "custom") await state.configReady; // its days are the site's
  const { since, until, bucket } = period(f);
  const span = until - since;
  const common = { site: f.site, topic: f.topic, nature: f.nature };
  const [metrics, previous, open, feed] = await Promise.all([
    api(`/api/metrics?${query({ ...common, since: since.toISOString(), until: until.toISOString(), bucket })}`),
    api(`/api/metrics?${query({ ...common, since: new Date(since - span).toISOString(), until: since.toISOString(), bucket: "day" })}`),
    api(`/api/cases?${query({ status: "open", limit: 200, assignee: mine() || undefined })}`),
    api(`/api/feedback?${query({ ...common, since: since.toISOString(), limit: 30 })}`),
  ]);
  await state.configReady;
  const held = await surveys(f.site);
  if (seq !== state.seq) return; // a newer view was asked for meanwhile: this answer is not shown
  const openCases = open.items.filter((c) => !f.site || c.site === f.site);
  renderKpis(metrics, open.next_cursor ? `${openCases.length}+` : openCases.length);
  renderChart(metrics, since, until, f.site);
  renderBars($("topics"), metrics.totals.topic, (topic) => setFilters({ topic }), (t) => t);
  renderSiteBars(metrics);
  renderCases(openCases);
  state.seen.clear();
  state.newest = null;
  renderFeed(feed.items, true);
  renderScorecards(metrics, previous);
  renderSurveys(held.reports);
  quality(f.site, since, until); // the Label quality card reads its own answer
  renderCrumbs(f);
  document.body.dataset.view = location.search;
  document.body.dataset.loaded = String(Date.now());
}

async function poll() {
  const f = filters();
  const seq = state.seq;
  const since = state.newest || period(f).since.toISOString();
  // as many as the feed shows: a burst of more than a page between two polls is not skipped
  const data = await api(`/api/feedback?${query({ site: f.site, topic: f.topic, nature: f.nature, since, limit: FEED_SIZE })}`);
  if (seq !== state.seq) return; // asked for an older view
  renderFeed(data.items, false);
}

async function act(id, action) {
  const name = $("who").value.trim();
  localStorage.setItem(NAME_KEY, name);
  try {
    const done = await api(`/api/cases/${encodeURIComponent(id)}/${action}`,
      { method: "POST", body: JSON.stringify(name ? { by: name } : {}) });
    await load();
    status(action === "ack" ? `Case ${id} acknowledged by ${done.acknowledged_by}.`
      : `Case ${id} resolved by ${done.resolved_by}.`);
  } catch (error) { handle(error); }
}

async function exportCsv() {
  const f = filters();
  const { since, until } = period(f);
  try {
    const { blob, truncated } = await api(`/api/export.csv?${query({ site: f.site, topic: f.topic, nature: f.nature, since: since.toISOString(), until: until.toISOString() })}`);
    const link = el("a", { href: URL.createObjectURL(blob), download: `voix-${since.toISOString().slice(0, 10)}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    status(truncated ? "The export holds the newest 10,000 messages of the period: choose a shorter period or a filter for the rest."
      : "Export downloaded.");
  } catch (error) { handle(error); }
}

function status(text) { $("status").textContent = text; }

function handle(error) {
  if (error instanceof SignedOut) { showSignin(); return; }
  status(`Error: ${error.message}`);
}

async function refresh() {
  syncForm();
  try { await load(); } catch (error) { handle(error); }
}

// -- the site picker: a combobox searching names and codes (ARIA list autocomplete) --------------
const PICKER_MAX = 50; // options listed at once; typing more narrows the rest
const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

// sites matching the typed text: a code first, then names that start with it, then names holding it
function searchSites(text) {
  const q = fold(text.trim());
  if (!q) return (state.siteIndex || []).map((e) => e.site);
  const words = q.split(/\s+/);
  const ranked = [];
  for (const e of state.siteIndex || []) {
    let rank;
    if (e.codes.includes(q) || e.name === q) rank = 0;
    else if (e.name.startsWith(q)) rank = 1;
    else if (e.codes.some((c) => c.startsWith(q))) rank = 2;
    else if (words.every((w) => e.name.includes(w))) rank = 3;
    else continue;
    ranked.push([rank, e.site]);
  }
  return ranked.sort((a, b) => a[0] - b[0]).map(([, site]) => site);
}

const picker = { options: [], active: -1 };

function renderPicker() {
  const input = $("f-site");
  const typed = input.value.trim();
  const browsing = !typed || (input.dataset.value && typed === siteName(input.dataset.value)); // nothing typed yet
  const found = searchSites(browsing ? "" : typed);
  const shown = found.slice(0, PICKER_MAX);
  picker.options = [...(browsing ? [{ id: "", name: "All sites", codes: [] }] : []), ...shown];
  picker.active = Math.min(Math.max(picker.active, 0), picker.options.length - 1);
  $("f-site-list").replaceChildren(...picker.options.map((s, i) => el("li", {
    id: `f-site-opt-${i}`, role: "option", class: "picker-option", "data-site": s.id,
    "aria-selected": String(i === picker.active),
    onmousedown: (e) => e.preventDefault(), // the input keeps the focus
    onclick: () => choose(s.id) },
  el("span", { text: s.name }), el("span", { class: "muted", text: (s.codes || []).join(" ") }))));
  const more = found.length - shown.length;
  $("f-site-more").textContent = !found.length ? "No site matches: try part of the name or the code."
    : more > 0 ? `${number(found.length)} sites match; type more to narrow.` : "";
  if (picker.active >= 0) input.setAttribute("aria-activedescendant", `f-site-opt-${picker.active}`);
  else input.removeAttribute("aria-activedescendant");
  $(`f-site-opt-${picker.active}`)?.scrollIntoView({ block: "nearest" });
}

function openPicker() {
  const input = $("f-site");
  if (document.activeElement !== input) input.focus();
  $("f-site-drop").hidden = false;
  input.setAttribute("aria-expanded", "true");
  renderPicker();
}

function closePicker(restore = true) {
  const input = $("f-site");
  $("f-site-drop").hidden = true;
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
  picker.active = -1;
  if (restore) input.value = input.dataset.value ? siteName(input.dataset.value) : "";
}

function choose(id) {
  const input = $("f-site");
  closePicker(false);
  input.value = id ? siteName(id) : "";
  if (id !== (input.dataset.value || "")) setFilters({ site: id });
}

function initPicker() {
  const input = $("f-site");
  input.addEventListener("input", () => { picker.active = 0; openPicker(); });
  input.addEventListener("mousedown", () => { if ($("f-site-drop").hidden) setTimeout(openPicker); });
  input.addEventListener("blur", () => closePicker());
  input.addEventListener("keydown", (event) => {
    const open = !$("f-site-drop").hidden;
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[event.key];
    if (step) {
      event.preventDefault();
      if (!open) { picker.active = 0; openPicker(); return; }
      picker.active = Math.min(Math.max(picker.active + step, 0), picker.options.length - 1);
      renderPicker();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (open && picker.options[picker.active]) choose(picker.options[picker.active].id);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      closePicker();
    }
  });
}

// -- screens ---------------------------------------------------------------------------------
function showSignin(message) {
  stopCase();
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").hidden = !message;
  $("signin-error").textContent = message || "";
  $("token").focus();
}

async function showApp() {
  $("signin").hidden = true;
  $("app").hidden = false;
  // the labels and the data are fetched together: the first render waits for one round trip
  state.configReady = api("/api/config").then((config) => {
    state.config = config;
    state.sites = new Map(config.sites.map((s) => [s.id, s]));
    state.siteIndex = config.sites.map((s) => ({ site: s, name: fold(s.name),
      codes: [s.id, ...(s.codes || [])].map(fold) }));
    fillSelect($("f-topic"), config.topics.map((t) => [t, t]));
    fillSelect($("f-nature"), config.natures.map((n) => [n, plural(n)]));
    renderNatureKpis();
    syncForm();
  });
  syncForm();
  const first = load().then(() => null, (error) => error);
  try {
    await state.configReady;
  } catch (error) {
    if (error instanceof SignedOut) { showSignin("That token was refused."); return; }
    throw error;
  }
  routeCase(); // a link to a case (#case=<id>) opens it as soon as the sites are known
  routeAdmin(true); // and a link to the settings (#settings=<page>)
  const failure = await first;
  if (failure) handle(failure);
  // the case page polls its own case; the dashboard behind it waits
  const away = () => caseIsOpen() || adminIsOpen();
  state.timers.push(setInterval(() => away() || poll().catch(handle), LIVE_MS));
  state.timers.push(setInterval(() => away() || load(true).catch(handle), REFRESH_MS));
}

function fillSelect(select, options) {
  const first = select.options[0];
  select.replaceChildren(first, ...options.map(([value, label]) => el("option", { value, text: label })));
}

function syncForm() {
  const f = filters();
  for (const key of ["period", "topic", "nature", "since", "until"]) $(`f-${key}`).value = f[key];
  $("f-site").dataset.value = f.site;
  if (document.activeElement !== $("f-site")) $("f-site").value = f.site ? siteName(f.site) : "";
  document.body.classList.toggle("custom-period", f.period === "custom");
}

function init() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    showApp().catch(handle);
  });
  $("signout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showSignin(); });
  $("filters").addEventListener("change", (event) => {
    if (event.target.name) setFilters({ [event.target.name]: event.target.value }); // the site picker sets its own
  });
  initPicker();
  initCasePage({ api, el, handle, siteName, zone, locale, ready: () => !$("app").hidden,
    signedOut: (error) => error instanceof SignedOut, afterClose: () => load(true).catch(handle),
    who: () => { const name = $("who").value.trim(); localStorage.setItem(NAME_KEY, name); return name; } });
  initAdmin({ api, el, handle, ready: () => !$("app").hidden, signedOut: (error) => error instanceof SignedOut,
    who: () => $("who").value.trim() });
  initCorrections({ api, el, handle, signedOut: (error) => error instanceof SignedOut, item: feedItem,
    config: () => state.config, who: () => { const name = $("who").value.trim(); localStorage.setItem(NAME_KEY, name); return name; } });
  initIncidents({ api, el, handle, siteName, locale, ready: () => !$("app").hidden, who: () => $("who").value.trim() });
  $("export").addEventListener("click", exportCsv);
  $("mine").addEventListener("change", () => load(true).catch(handle));
  $("who").value = localStorage.getItem(NAME_KEY) || "";
  window.addEventListener("popstate", () => { if (document.body.dataset.view !== location.search) refresh(); });
  window.addEventListener("resize", () => state.chart?.setSize({ width: Math.max(280, $("chart").clientWidth - 8), height: 240 }));
  if (sessionStorage.getItem(TOKEN_KEY)) showApp().catch(handle); else showSignin();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
