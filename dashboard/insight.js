// What the API knows, on the dashboard: promises kept and first replies (/api/metrics), survey scores per site
// (/api/surveys), offer budgets (/api/offers/budget) and per-staff scorecards (/api/scorecards), each figure
// with its numbers and its trend. Strings in TEXT, to move to the catalogue.

const TEXT = {
  service: "Promises and first replies", surveys: "Survey scores", offers: "Offer budgets today",
  staff: "Staff on duty",
  kept: "Promises kept", of: "of", missed: "missed", firstReply: "Average first reply",
  replied: "cases replied to", reopened: "reopened", vsBefore: "vs the period before",
  site: "Site", nps: "NPS", csat: "CSAT", ces: "CES", rate: "Response rate", trend: "Trend (latest survey)",
  answers: "answers", budget: "Budget", issued: "Issued", left: "Left",
  name: "Name", messages: "Messages", compliments: "Compliments", complaints: "Complaints", ack: "Time to acknowledge",
  none: "None yet.", noRoster: "No roster says who was on duty at these sites.",
  tooLong: "Scorecards cover at most 31 days: choose a shorter period.",
  better: "better", worse: "worse", same: "same",
};
const SITES_MAX = 12; // a network view reads the offers of at most this many sites, one request each
const MAX_DAYS = 31;

let deps = null;
let seq = 0;
const $ = (id) => document.getElementById(id);

export function initInsight(dependencies) {
  deps = dependencies;
  const root = $("insight");
  if (!root) return;
  const { el } = deps;
  const card = (id, title) => el("section", { class: "card", "aria-labelledby": `t-${id}` },
    el("h2", { id: `t-${id}`, text: title }), el("div", { id, class: "insight" }));
  root.replaceChildren(card("in-service", TEXT.service), card("in-surveys", TEXT.surveys),
    card("in-offers", TEXT.offers), card("in-staff", TEXT.staff));
}

const num = (x) => (x == null ? "–" : Number(x).toLocaleString(deps.locale()));
const pct = (x) => (x == null ? "–" : `${Math.round(100 * x)}%`);

function duration(seconds) {
  if (seconds == null) return "–";
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

// a change as a figure with its direction: higher is better unless ``lower`` says otherwise
function trend(now, before, unit = "", lower = false) {
  if (now == null || before == null) return "–";
  const change = Math.round((now - before) * 10) / 10;
  if (!change) return `= ${TEXT.same}`;
  const good = lower ? change < 0 : change > 0;
  return `${change > 0 ? "▲ +" : "▼ −"}${Math.abs(change)}${unit} ${good ? TEXT.better : TEXT.worse}`;
}

function table(headers, rows) {
  const { el } = deps;
  if (!rows.length) return el("p", { class: "muted", text: TEXT.none });
  return el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows.map(([head, ...cells]) => el("tr", {}, el("th", { scope: "row", text: head }),
      ...cells.map((c) => el("td", { text: c })))))));
}

// view: { metrics, previous, surveys (the /api/surveys reports already read), site, since, until }
export async function insight(view) {
  if (!deps || !$("insight")) return;
  const mine = ++seq;
  renderService(view.metrics.totals, view.previous.totals);
  renderSurveys(view.surveys || []);
  const sites = view.site ? [view.site] : deps.sites().slice(0, SITES_MAX);
  const days = (view.until - view.since) / 86_400_000;
  const [budgets, cards] = await Promise.all([
    Promise.all(sites.map((id) => deps.api(`/api/offers/budget?site=${encodeURIComponent(id)}`).catch(() => null))),
    days <= MAX_DAYS ? deps.api(`/api/scorecards?${new URLSearchParams({ since: view.since.toISOString(),
      until: view.until.toISOString(), ...(view.site ? { site: view.site } : {}) })}`) : null,
  ]);
  if (mine !== seq) return;
  renderOffers(budgets.filter(Boolean));
  renderStaff(cards);
}

function renderService(now, before) {
  const { el } = deps;
  const p = now.promises;
  const q = before.promises;
  const lines = [];
  if (p) {
    lines.push(el("p", { "data-figure": "promises" }, el("strong", { text: pct(p.share_kept) }),
      el("span", { text: ` ${TEXT.kept}: ${num(p.kept)} ${TEXT.of} ${num(p.kept + p.missed)} (${num(p.missed)} `
        + `${TEXT.missed}) · ${trend(p.share_kept == null ? null : 100 * p.share_kept,
          q?.share_kept == null ? null : 100 * q.share_kept, " pts")} ${TEXT.vsBefore}` })));
  }
  if (now.replied != null) {
    lines.push(el("p", { "data-figure": "first-reply" }, el("strong", { text: duration(now.average_seconds_to_first_reply) }),
      el("span", { text: ` ${TEXT.firstReply}: ${num(now.replied)} ${TEXT.replied}, ${num(now.reopened)} `
        + `${TEXT.reopened} · ${trend(now.average_seconds_to_first_reply == null ? null
          : Math.round(now.average_seconds_to_first_reply / 60), before.average_seconds_to_first_reply == null ? null
          : Math.round(before.average_seconds_to_first_reply / 60), " min", true)} ${TEXT.vsBefore}` })));
  }
  $("in-service").replaceChildren(...(lines.length ? lines : [el("p", { class: "muted", text: TEXT.none })]));
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
    return s && s.n ? `${num(s.score)} (${num(s.n)} ${TEXT.answers})` : "–";
  };
  const rows = reports.filter((r) => r.surveys.length).map((r) => [deps.siteName(r.site), score(r, "nps"),
    score(r, "csat"), score(r, "ces"), pct(r.response_rate),
    ["nps", "csat", "ces"].map((k) => latestTrend(r, k)).filter(Boolean).join(" · ") || "–"]);
  $("in-surveys").replaceChildren(table([TEXT.site, TEXT.nps, TEXT.csat, TEXT.ces, TEXT.rate, TEXT.trend], rows));
}

function renderOffers(budgets) {
  $("in-offers").replaceChildren(table([TEXT.site, TEXT.budget, TEXT.issued, TEXT.left],
    budgets.map((b) => [deps.siteName(b.site), num(b.budget), num(b.issued), num(b.left)])));
}

function renderStaff(cards) {
  const { el } = deps;
  if (!cards) {
    $("in-staff").replaceChildren(el("p", { class: "note", text: TEXT.tooLong }));
    return;
  }
  const rows = cards.staff.map((s) => [s.name, deps.siteName(s.site), num(s.messages), num(s.compliments),
    num(s.complaints), s.promises ? `${pct(s.promises.share_kept)} (${num(s.promises.kept)} ${TEXT.of} `
      + `${num(s.promises.kept + s.promises.missed)})` : "–", duration(s.median_seconds_to_acknowledge)]);
  $("in-staff").replaceChildren(rows.length ? table([TEXT.name, TEXT.site, TEXT.messages, TEXT.compliments,
    TEXT.complaints, TEXT.kept, TEXT.ack], rows) : el("p", { class: "muted", text: TEXT.noRoster }));
}
