// What the API knows, on the dashboard: promises kept and first replies (/api/metrics), survey scores per site
// (/api/surveys), offer budgets (/api/offers/budget) and per-staff scorecards (/api/scorecards), each figure
// with its numbers and its trend.

import { $, api, duration, el, siteName, state } from "../core.js";
import { number, t } from "../i18n.js";

const SITES_MAX = 12; // a network view reads the offers of at most this many sites, one request each
const MAX_DAYS = 31;
let seq = 0;

export function initInsight() {
  const root = $("insight");
  if (!root) return;
  const card = (id, title) => el("section", { class: "card", "aria-labelledby": `t-${id}` },
    el("h2", { id: `t-${id}`, text: title }), el("div", { id, class: "insight" }));
  root.replaceChildren(card("in-service", t("insight.service")), card("in-surveys", t("insight.surveys")),
    card("in-offers", t("insight.offers")), card("in-staff", t("insight.staff")));
}

const num = (x) => (x == null ? "–" : number(x));
const pct = (x) => (x == null ? "–" : number(x, { style: "percent" }));

// a change as a figure with its direction: higher is better unless ``lower`` says otherwise
function trend(now, before, unit = "", lower = false) {
  if (now == null || before == null) return "–";
  const change = Math.round((now - before) * 10) / 10;
  if (!change) return `= ${t("insight.same")}`;
  const good = lower ? change < 0 : change > 0;
  return `${change > 0 ? "▲ +" : "▼ −"}${number(Math.abs(change))}${unit} ${t(good ? "insight.better" : "insight.worse")}`;
}

function table(headers, rows) {
  if (!rows.length) return el("p", { class: "muted", text: t("insight.none") });
  return el("div", { class: "table-wrap", tabindex: "0", role: "region" }, el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows.map(([head, ...cells]) => el("tr", {}, el("th", { scope: "row", text: head }),
      ...cells.map((c) => el("td", { text: c })))))));
}

// view: { metrics, previous, surveys (the /api/surveys reports already read), site, since, until }
export async function insight(view) {
  if (!$("insight")) return;
  const mine = ++seq;
  renderService(view.metrics.totals, view.previous.totals);
  renderSurveys(view.surveys || []);
  const every = view.site ? [view.site] : (state.config?.sites || []).map((s) => s.id);
  const sites = every.slice(0, SITES_MAX);
  const days = (view.until - view.since) / 86_400_000;
  const [budgets, cards] = await Promise.all([
    Promise.all(sites.map((id) => api(`/api/offers/budget?site=${encodeURIComponent(id)}`).catch(() => null))),
    days <= MAX_DAYS ? api(`/api/scorecards?${new URLSearchParams({ since: view.since.toISOString(),
      until: view.until.toISOString(), ...(view.site ? { site: view.site } : {}) })}`) : null,
  ]);
  if (mine !== seq) return;
  renderOffers(budgets.filter(Boolean), every.length);
  renderStaff(cards);
}

function renderService(now, before) {
  const p = now.promises;
  const q = before.promises;
  const lines = [];
  if (p) {
    const change = trend(p.share_kept == null ? null : 100 * p.share_kept,
      q?.share_kept == null ? null : 100 * q.share_kept, ` ${t("insight.points")}`);
    lines.push(el("p", { "data-figure": "promises" }, el("strong", { text: pct(p.share_kept) }),
      el("span", { text: ` ${t("insight.kept_line", { kept: num(p.kept), total: num(p.kept + p.missed),
        missed: num(p.missed) })} · ${change} ${t("insight.vs_before")}` })));
  }
  if (now.replied != null) {
    const minutes = (s) => (s == null ? null : Math.round(s / 60));
    const change = trend(minutes(now.average_seconds_to_first_reply), minutes(before.average_seconds_to_first_reply),
      ` ${t("insight.min")}`, true);
    lines.push(el("p", { "data-figure": "first-reply" }, el("strong", { text: duration(now.average_seconds_to_first_reply) }),
      el("span", { text: ` ${t("insight.reply_line", { replied: num(now.replied), reopened: num(now.reopened) })} · `
        + `${change} ${t("insight.vs_before")}` })));
  }
  $("in-service").replaceChildren(...(lines.length ? lines : [el("p", { class: "muted", text: t("insight.none") })]));
}

// a kind's score in the latest survey that asked it, against the survey before that asked it
function latestTrend(report, kind) {
  const scores = report.surveys.slice().sort((a, b) => (a.created_at < b.created_at ? 1 : -1))
    .map((s) => s.questions.find((q) => q.kind === kind && q.score != null)?.score).filter((s) => s != null);
  return scores.length >= 2 ? `${kind.toUpperCase()} ${trend(scores[0], scores[1], "", kind === "ces")}` : null;
}

function renderSurveys(reports) {
  const score = (r, kind) => {
    const s = r.scores?.[kind];
    return s && s.n ? t("insight.score", { score: num(s.score), n: num(s.n) }) : "–";
  };
  const rows = reports.filter((r) => r.surveys.length).map((r) => [siteName(r.site), score(r, "nps"),
    score(r, "csat"), score(r, "ces"), pct(r.response_rate),
    ["nps", "csat", "ces"].map((k) => latestTrend(r, k)).filter(Boolean).join(" · ") || "–"]);
  $("in-surveys").replaceChildren(table([t("insight.site"), "NPS", "CSAT", "CES", t("insight.rate"),
    t("insight.trend")], rows));
}

// a network of more than SITES_MAX sites: the first ones, and a note saying so (never a silent cut)
function renderOffers(budgets, total) {
  const shown = table([t("insight.site"), t("insight.budget"), t("insight.issued"), t("insight.left")],
    budgets.map((b) => [siteName(b.site), num(b.budget), num(b.issued), num(b.left)]));
  $("in-offers").replaceChildren(shown, ...(total > SITES_MAX ? [el("p", { class: "note", "data-note": "first-sites",
    text: t("insight.first_sites", { shown: number(SITES_MAX), total: number(total) }) })] : []));
}

function renderStaff(cards) {
  if (!cards) {
    $("in-staff").replaceChildren(el("p", { class: "note", text: t("insight.too_long", { days: MAX_DAYS }) }));
    return;
  }
  const rows = cards.staff.map((s) => [s.name, siteName(s.site), num(s.messages), num(s.compliments),
    num(s.complaints), s.promises ? `${pct(s.promises.share_kept)} (${t("insight.of", { kept: num(s.promises.kept),
      total: num(s.promises.kept + s.promises.missed) })})` : "–", duration(s.median_seconds_to_acknowledge)]);
  $("in-staff").replaceChildren(rows.length ? table([t("insight.name"), t("insight.site"), t("insight.messages"),
    t("insight.compliments"), t("insight.complaints"), t("insight.kept"), t("insight.ack")], rows)
    : el("p", { class: "muted", text: t("insight.no_roster") }));
}
