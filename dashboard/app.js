// Voix dashboard: plain JavaScript modules, no build step, no CDN. This module wires the panels
// (panels/*.js, one per card) to the filters and the API; i18n.js gives every text in the reader's
// language. Customer text is only ever set with textContent, never parsed as HTML.

import { caseIsOpen, initCasePage, route as routeCase, stopCase } from "./case.js";
import { adminIsOpen, initAdmin, route as routeAdmin } from "./admin.js";
import { initCorrections, quality } from "./corrections.js";
import { $, NAME_KEY, SignedOut, TOKEN_KEY, api, channelName, el, filters, hooks, period, query, setFilters, siteName,
  state, status, topicName, zone } from "./core.js";
import { initSwitch, loadLanguage, locale, t, translatePage } from "./i18n.js";
import { renderBars, renderSiteBars } from "./panels/breakdowns.js";
import { renderCases, mine } from "./panels/cases.js";
import { renderChart, resizeChart } from "./panels/chart.js";
import { feedItem, poll, renderFeed } from "./panels/feed.js";
import { renderKpis, renderNatureKpis } from "./panels/figures.js";
import { exportCsv, fillFilters, renderCrumbs, syncForm } from "./panels/filters.js";
import { fold, initPicker } from "./panels/picker.js";
import { renderScorecards } from "./panels/scorecards.js";
import { renderSurveys, surveys } from "./panels/surveys.js";
import { initInsight, insight } from "./panels/insight.js";
import { initYear, resizeYear, year } from "./panels/year.js";
import { initIncidents } from "./panels/incidents.js";

const LIVE_MS = 1000;
const REFRESH_MS = 15000;
const LOADING_MS = 200; // an answer slower than this shows the loading sign

// Panels added later (the incidents banner, the year view) mount here: each is given the config
// once it is known (mount) and the view's answers on every render (update). #incidents and #year
// in index.html are their places.
const extraPanels = [];
export function addPanel(panel) { extraPanels.push(panel); }

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
  const common = { site: f.site, topic: f.topic, nature: f.nature, channel: f.channel };
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
  renderKpis(metrics, openCases.length, Boolean(open.next_cursor));
  renderChart(metrics, since, until, f.site);
  // topics are not counted per channel (a channel's view has none), nor channels per topic
  $("topics-note").hidden = metrics.totals.topic !== null;
  renderBars($("topics"), metrics.totals.topic || {}, (topic) => setFilters({ topic, channel: "" }),
    topicName);
  renderBars($("channels"), metrics.totals.channel || {}, (channel) => setFilters({ channel, topic: "" }),
    channelName);
  renderSiteBars(metrics);
  renderCases(openCases);
  state.seen.clear();
  state.newest = null;
  renderFeed(feed.items, true);
  renderScorecards(metrics, previous);
  renderSurveys(held.reports);
  quality(f.site, since, until); // the Label quality card reads its own answer
  const signedOut = (error) => error instanceof SignedOut;
  year(f.site, signedOut).catch(handle); // the year at a glance, and what the API knows: their own answers
  insight({ metrics, previous, surveys: held.reports, site: f.site, since, until }).catch(handle);
  for (const panel of extraPanels) panel.update?.({ filters: f, since, until, metrics });
  renderCrumbs(f);
  document.body.dataset.view = location.search;
  document.body.dataset.loaded = String(Date.now());
}

function handle(error) {
  if (error instanceof SignedOut) { showSignin(); return; }
  status(t("error", { message: error.message }));
}

async function refresh() {
  syncForm();
  try { await load(); } catch (error) { handle(error); }
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
    fillFilters(config);
    renderNatureKpis();
    syncForm();
    for (const panel of extraPanels) panel.mount?.(config);
  });
  syncForm();
  const first = load().then(() => null, (error) => error);
  try {
    await state.configReady;
  } catch (error) {
    if (error instanceof SignedOut) { showSignin(t("signin.refused")); return; }
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

const rememberName = () => { const name = $("who").value.trim(); localStorage.setItem(NAME_KEY, name); return name; };

async function init() {
  await loadLanguage();
  translatePage();
  initSwitch($("lang"));
  Object.assign(hooks, { refresh, load, handle, status });
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    showApp().catch(handle);
  });
  $("signout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showSignin(); });
  $("filters").addEventListener("change", (event) => {
    const { name, value } = event.target;
    // topics are not counted per channel: a channel clears the topic, a topic the channel
    const other = value && { channel: { topic: "" }, topic: { channel: "" } }[name];
    if (name) setFilters({ [name]: value, ...other }); // the site picker sets its own
  });
  initPicker();
  initCasePage({ api, el, handle, siteName, zone, locale, ready: () => !$("app").hidden,
    signedOut: (error) => error instanceof SignedOut, afterClose: () => load(true).catch(handle), who: rememberName });
  initAdmin({ api, el, handle, ready: () => !$("app").hidden, signedOut: (error) => error instanceof SignedOut,
    who: () => $("who").value.trim() });
  initYear();
  initInsight();
  initCorrections({ api, el, handle, signedOut: (error) => error instanceof SignedOut, item: feedItem,
    config: () => state.config, who: rememberName });
  initIncidents({ api, el, handle, siteName, locale, ready: () => !$("app").hidden, who: () => $("who").value.trim() });
  $("export").addEventListener("click", exportCsv);
  $("mine").addEventListener("change", () => load(true).catch(handle));
  $("who").value = localStorage.getItem(NAME_KEY) || "";
  window.addEventListener("popstate", () => { if (document.body.dataset.view !== location.search) refresh(); });
  window.addEventListener("resize", () => { resizeChart(); resizeYear(); });
  if (sessionStorage.getItem(TOKEN_KEY)) showApp().catch(handle); else showSignin();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
