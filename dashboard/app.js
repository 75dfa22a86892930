// Voix dashboard: plain JavaScript, no build step, no CDN. Customer text is only ever
// set with textContent, never parsed as HTML.

const TOKEN_KEY = "voix.operatorToken";
const NATURES = ["complaint", "compliment", "suggestion", "question", "unclear"];
const COLOURS = { complaint: "#c0392b", compliment: "#1e8449", suggestion: "#2e86c1", question: "#8e6c00",
  unclear: "#7b7d7d" };
const LIVE_MS = 1000;
const REFRESH_MS = 15000;

const $ = (id) => document.getElementById(id);
const state = { config: null, chart: null, newest: null, seen: new Set(), timers: [] };

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
    throw new Error(message);
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

function period(f) {
  const now = new Date();
  let since;
  let until = now;
  if (f.period === "today") since = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  else if (f.period === "30d") since = new Date(now - 30 * 86400e3);
  else if (f.period === "custom" && f.since) {
    since = new Date(`${f.since}T00:00:00`);
    if (f.until) until = new Date(`${f.until}T23:59:59`);
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
  return state.config.sites.find((s) => s.id === id)?.name || id;
}

function maskedTime(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

function renderKpis(metrics, openCount) {
  const t = metrics.totals;
  $("k-messages").textContent = t.messages.toLocaleString();
  for (const nature of NATURES) $(`k-${nature}`).textContent = pct(t.nature[nature], t.messages);
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

function renderChart(metrics, since, until) {
  const box = $("chart");
  const byTime = new Map(metrics.series.map((p) => [Date.parse(p.t.length === 10 ? `${p.t}T00:00:00Z` : p.t) / 1000, p]));
  const xs = buckets(since, until, metrics.bucket);
  const raw = NATURES.map((n) => xs.map((x) => byTime.get(x)?.nature[n] || 0));
  const stacked = raw.map((_, i) => xs.map((__, j) => raw.slice(0, i + 1).reduce((sum, s) => sum + s[j], 0)));
  const order = [...NATURES.keys()].reverse(); // draw the tallest first, smaller ones over it
  const data = [xs, ...order.map((i) => stacked[i])];
  const width = Math.max(280, box.clientWidth - 8);
  const opts = {
    width, height: 240,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [{}, { size: 60 }],
    series: [{}, ...order.map((i) => ({
      label: NATURES[i], fill: COLOURS[NATURES[i]], stroke: COLOURS[NATURES[i]],
      paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false },
      value: (u, v, si, idx) => (idx == null ? "–" : raw[order[si - 1]][idx]),
    }))],
  };
  state.chart?.destroy();
  box.replaceChildren();
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

function badge(kind, value) {
  return el("span", { class: `badge ${kind}-${value}`, text: value });
}

function feedItem(m) {
  return el("li", { class: `item${m.urgency === "high" ? " urgent" : ""}`, "data-id": m.id },
    el("div", { class: "meta" },
      badge("site", siteName(m.site)), badge("topic", m.topic), badge("nature", m.nature),
      ...(m.urgency === "high" ? [badge("urgency", "urgent")] : []),
      el("span", { class: "who", text: m.from || "" }),
      el("time", { datetime: m.received_at, text: maskedTime(m.received_at) })),
    el("p", { class: "text", text: m.text }));
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

function renderCases(cases) {
  const list = $("cases");
  list.replaceChildren(...cases.map((c) => el("li", { class: `case${c.urgency === "high" ? " urgent" : ""}` },
    el("div", { class: "meta" },
      badge("site", siteName(c.site)), badge("topic", c.topic), badge("nature", c.nature),
      ...(c.urgency === "high" ? [badge("urgency", "urgent")] : []),
      el("span", { class: "who", text: c.customer || "" }),
      el("span", { class: "age", text: `open ${duration((Date.now() - Date.parse(c.created_at)) / 1000)}` }),
      ...(c.promised_at ? [promise(c)] : []),
      ...(c.code ? [el("span", { class: "code", text: `code ${c.code}` })] : [])),
    el("p", { class: "text", text: c.text }),
    el("p", { class: "alerted", text: `Alerted: ${c.alerts.map((a) => `${a.to} (${a.status})`).join(", ") || "nobody"}` }),
    el("div", { class: "actions" },
      el("button", { type: "button", onclick: () => act(c.id, "ack"), "aria-label": `Acknowledge case ${c.id}`, text: "Acknowledge" }),
      el("button", { type: "button", class: "secondary", onclick: () => act(c.id, "resolve"), "aria-label": `Resolve case ${c.id}`, text: "Resolve" })))));
  if (!cases.length) list.append(el("li", { class: "muted", text: "No open case." }));
}

function renderScorecards(current, previous) {
  const body = $("scorecards").querySelector("tbody");
  const rows = Object.entries(current.sites).filter(([, s]) => s.messages > 0);
  body.replaceChildren(...rows.map(([id, s]) => {
    const before = previous.sites[id];
    const ratio = (x) => (x && x.nature.complaint ? x.nature.compliment / x.nature.complaint : null);
    const now = ratio(s);
    const then = ratio(before);
    let trend = "–";
    if (now != null && then != null) trend = now > then ? "▲ better" : now < then ? "▼ worse" : "= same";
    const ack = s.median_seconds_to_acknowledge;
    return el("tr", {},
      el("th", { scope: "row", text: siteName(id) }), el("td", { text: s.messages }),
      el("td", { text: s.nature.compliment }), el("td", { text: s.nature.complaint }),
      el("td", { text: now == null ? "–" : now.toFixed(2) }), el("td", { text: trend }),
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

// -- data ------------------------------------------------------------------------------------
async function load() {
  const f = filters();
  const { since, until, bucket } = period(f);
  const span = until - since;
  const common = { site: f.site, topic: f.topic, nature: f.nature };
  const [metrics, previous, open, feed] = await Promise.all([
    api(`/api/metrics?${query({ ...common, since: since.toISOString(), until: until.toISOString(), bucket })}`),
    api(`/api/metrics?${query({ ...common, since: new Date(since - span).toISOString(), until: since.toISOString(), bucket: "day" })}`),
    api("/api/cases?status=open&limit=200"),
    api(`/api/feedback?${query({ ...common, since: since.toISOString(), limit: 30 })}`),
  ]);
  await state.configReady;
  const openCases = open.items.filter((c) => !f.site || c.site === f.site);
  renderKpis(metrics, open.next_cursor ? `${openCases.length}+` : openCases.length);
  renderChart(metrics, since, until);
  renderBars($("topics"), metrics.totals.topic, (topic) => setFilters({ topic }), (t) => t);
  renderBars($("sites"), metrics.totals.site, (site) => setFilters({ site: site === "unknown" ? "" : site }), siteName);
  renderCases(openCases);
  state.seen.clear();
  state.newest = null;
  renderFeed(feed.items, true);
  renderScorecards(metrics, previous);
  renderCrumbs(f);
  document.body.dataset.loaded = String(Date.now());
}

async function poll() {
  const f = filters();
  const since = state.newest || period(f).since.toISOString();
  // as many as the feed shows: a burst of more than a page between two polls is not skipped
  const data = await api(`/api/feedback?${query({ site: f.site, topic: f.topic, nature: f.nature, since, limit: FEED_SIZE })}`);
  renderFeed(data.items, false);
}

async function act(id, action) {
  try {
    await api(`/api/cases/${encodeURIComponent(id)}/${action}`, { method: "POST", body: "{}" });
    await load();
    status(action === "ack" ? `Case ${id} acknowledged.` : `Case ${id} resolved.`);
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

// -- screens ---------------------------------------------------------------------------------
function showSignin(message) {
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
    fillSelect($("f-site"), config.sites.map((s) => [s.id, s.name]));
    fillSelect($("f-topic"), config.topics.map((t) => [t, t]));
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
  const failure = await first;
  if (failure) handle(failure);
  state.timers.push(setInterval(() => poll().catch(handle), LIVE_MS));
  state.timers.push(setInterval(() => load().catch(handle), REFRESH_MS));
}

function fillSelect(select, options) {
  const first = select.options[0];
  select.replaceChildren(first, ...options.map(([value, label]) => el("option", { value, text: label })));
}

function syncForm() {
  const f = filters();
  for (const key of ["site", "period", "topic", "nature", "since", "until"]) $(`f-${key}`).value = f[key];
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
  $("filters").addEventListener("change", (event) => setFilters({ [event.target.name]: event.target.value }));
  $("export").addEventListener("click", exportCsv);
  window.addEventListener("popstate", refresh);
  window.addEventListener("resize", () => state.chart?.setSize({ width: Math.max(280, $("chart").clientWidth - 8), height: 240 }));
  if (sessionStorage.getItem(TOKEN_KEY)) showApp().catch(handle); else showSignin();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
