// The year at a glance: 13 months and their ISO weeks (/api/metrics/year, read from month and week items,
// never days), a uPlot bar chart stacked by nature and the same numbers in a table.

import { $, api, colour, el, natures, plural } from "../core.js";
import { locale, number, t } from "../i18n.js";

const FRESH_MS = 60_000; // the dashboard refreshes every 15 s: the year is read again at most once a minute
const HEIGHT = 220;
let chart = null;
let last = null; // { site, answer, at }
let granularity = "month";
let seq = 0;

export function initYear() {
  const root = $("year-view");
  if (!root) return;
  const toggle = el("div", { class: "year-toggle", role: "group", "aria-label": t("year.title") },
    ...[["month", t("year.by_month")], ["week", t("year.by_week")]].map(([value, label]) => el("button", {
      type: "button", class: "secondary", "data-granularity": value, "aria-pressed": String(value === granularity),
      onclick: () => { granularity = value; draw(); }, text: label })));
  root.replaceChildren(el("h2", { id: "t-year", text: t("year.title") }), el("p", { class: "note", text: t("year.note") }),
    toggle, el("div", { id: "year-chart", class: "chart", role: "img", "aria-label": t("year.chart") }),
    el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("year.table") },
      el("table", { id: "year-table" })));
}

// the year of a site ("" for the network): read once per site and minute, drawn at once
export async function year(site, signedOut) {
  if (!$("year-view")) return;
  if (last && last.site === site && Date.now() - last.at < FRESH_MS) return; // a month moves slowly
  const mine = ++seq;
  const started = performance.now();
  try {
    const answer = await api(`/api/metrics/year${site ? `?site=${encodeURIComponent(site)}` : ""}`);
    if (mine !== seq) return;
    last = { site, answer, at: Date.now() };
    draw();
    $("year-view").dataset.renderedMs = String(Math.round(performance.now() - started));
  } catch (error) {
    if (signedOut(error)) throw error;
    $("year-table").replaceChildren(el("caption", { text: t("year.failed", { message: error.message }) }));
  }
}

function rows() {
  return granularity === "week" ? last.answer.weeks : last.answer.months;
}

function draw() {
  if (!last) return;
  for (const button of $("year-view").querySelectorAll("[data-granularity]")) {
    button.setAttribute("aria-pressed", String(button.dataset.granularity === granularity));
  }
  const data = rows();
  const shown = natures().filter((n) => data.some((r) => r.nature[n]));
  drawChart(data, shown);
  drawTable(data, shown);
}

function drawChart(data, shown) {
  const box = $("year-chart");
  chart?.destroy();
  chart = null;
  box.replaceChildren();
  if (!window.uPlot) return;
  const xs = data.map((_, i) => i);
  // stacked: each series is the sum of its own nature and those drawn under it
  const stacks = [];
  let below = data.map(() => 0);
  for (const n of shown) {
    below = below.map((b, i) => b + (data[i].nature[n] || 0));
    stacks.push(below);
  }
  const bars = window.uPlot.paths.bars({ size: [0.7, 40] });
  const order = shown.map((_, i) => i).reverse(); // the tallest stack drawn first, the others over it
  chart = new window.uPlot({
    width: Math.max(280, box.clientWidth - 8), height: HEIGHT, legend: { show: true },
    scales: { x: { time: false } },
    axes: [{ values: (_, ticks) => ticks.map((i) => label(data[i]?.t)) }, {}],
    series: [{ label: t("year.period"), value: (_, i) => (i == null ? "–" : label(data[i]?.t)) },
      ...order.map((i) => ({ label: plural(shown[i]), stroke: colour(shown[i]),
      fill: colour(shown[i]), paths: bars, points: { show: false } }))],
  }, [xs, ...order.map((i) => stacks[i])], box);
}

// "2026-03" as the reader's short month ("mars 26", "Mar 26"); an ISO week ("2026-W09") as "W09"/"S09"
function label(period) {
  if (!period) return "";
  if (period.includes("-W")) return t("year.week", { n: period.slice(6) });
  const [y, m] = period.split("-");
  return new Intl.DateTimeFormat(locale(), { month: "short", year: "2-digit", timeZone: "UTC" })
    .format(new Date(Date.UTC(Number(y), Number(m) - 1, 1)));
}

function drawTable(data, shown) {
  const count = (x) => number(x || 0);
  $("year-table").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("year.period") }),
      el("th", { scope: "col", text: t("year.messages") }),
      ...shown.map((n) => el("th", { scope: "col", text: plural(n) })),
      el("th", { scope: "col", text: t("year.urgent") }))),
    el("tbody", {}, ...data.map((r) => el("tr", { "data-t": r.t },
      el("th", { scope: "row", text: r.t.includes("-W") ? `${r.t.slice(0, 4)} ${label(r.t)}` : label(r.t) }),
      el("td", { text: count(r.messages) }),
      ...shown.map((n) => el("td", { text: count(r.nature[n]) })),
      el("td", { text: count(r.urgency.high) })))));
}

export function resizeYear() {
  const box = $("year-chart");
  if (chart && box) chart.setSize({ width: Math.max(280, box.clientWidth - 8), height: HEIGHT });
}
