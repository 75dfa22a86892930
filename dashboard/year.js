// The year at a glance: 13 months and their ISO weeks (/api/metrics/year, read from month and week items),
// a uPlot bar chart by nature and the same numbers in a table. Strings in TEXT, to move to the catalogue.

const TEXT = {
  title: "The year at a glance",
  note: "The last 13 months (UTC), by month or by ISO week, stacked by nature.",
  byMonth: "By month", byWeek: "By week",
  period: "Period", messages: "Messages", urgent: "Urgent",
  chart: "Messages over 13 months, by nature", table: "The year's figures",
  failed: "The year could not be read: ",
};

const FRESH_MS = 60_000; // the dashboard refreshes every 15 s: the year is read again at most once a minute
let deps = null;
let chart = null;
let last = null; // { site, answer }
let granularity = "month";
let seq = 0;
const $ = (id) => document.getElementById(id);

export function initYear(dependencies) {
  deps = dependencies;
  const root = $("year-view");
  if (!root) return;
  const { el } = deps;
  const toggle = el("div", { class: "year-toggle", role: "group", "aria-label": TEXT.title },
    ...[["month", TEXT.byMonth], ["week", TEXT.byWeek]].map(([value, label]) => el("button", {
      type: "button", class: "secondary", "data-granularity": value, "aria-pressed": String(value === granularity),
      onclick: () => { granularity = value; draw(); }, text: label })));
  root.replaceChildren(el("h2", { id: "t-year", text: TEXT.title }), el("p", { class: "note", text: TEXT.note }),
    toggle, el("div", { id: "year-chart", class: "chart", role: "img", "aria-label": TEXT.chart }),
    el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": TEXT.table },
      el("table", { id: "year-table" })));
}

// the year of a site ("" for the network): read once per site and view, drawn at once
export async function year(site) {
  if (!deps || !$("year-view")) return;
  if (last && last.site === site && Date.now() - last.at < FRESH_MS) return; // a month moves slowly
  const mine = ++seq;
  const started = performance.now();
  try {
    const answer = await deps.api(`/api/metrics/year${site ? `?site=${encodeURIComponent(site)}` : ""}`);
    if (mine !== seq) return;
    last = { site, answer, at: Date.now() };
    draw();
    $("year-view").dataset.renderedMs = String(Math.round(performance.now() - started));
  } catch (error) {
    if (deps.signedOut(error)) throw error;
    $("year-table").replaceChildren(deps.el("caption", { text: TEXT.failed + error.message }));
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
  const natures = deps.natures().filter((n) => data.some((r) => r.nature[n]));
  drawChart(data, natures);
  drawTable(data, natures);
}

function drawChart(data, natures) {
  const box = $("year-chart");
  chart?.destroy();
  chart = null;
  box.replaceChildren();
  if (!window.uPlot) return;
  const xs = data.map((_, i) => i);
  // stacked: each series is the sum of its own nature and those drawn under it
  const stacks = [];
  let below = data.map(() => 0);
  for (const n of natures) {
    below = below.map((b, i) => b + (data[i].nature[n] || 0));
    stacks.push(below);
  }
  const bars = window.uPlot.paths.bars({ size: [0.7, 40] });
  const order = natures.map((_, i) => i).reverse(); // the tallest stack drawn first, the others over it
  chart = new window.uPlot({
    width: Math.max(280, box.clientWidth - 8), height: 220, legend: { show: true },
    scales: { x: { time: false } },
    axes: [{ values: (_, ticks) => ticks.map((t) => label(data[t]?.t)) }, {}],
    series: [{}, ...order.map((i) => ({ label: deps.plural(natures[i]), stroke: deps.colour(natures[i]),
      fill: deps.colour(natures[i]), paths: bars, points: { show: false } }))],
  }, [xs, ...order.map((i) => stacks[i])], box);
}

function label(t) {
  if (!t) return "";
  if (t.includes("-W")) return t.slice(5);
  const [y, m] = t.split("-");
  return new Intl.DateTimeFormat(deps.locale(), { month: "short", year: "2-digit", timeZone: "UTC" })
    .format(new Date(Date.UTC(Number(y), Number(m) - 1, 1)));
}

function drawTable(data, natures) {
  const { el } = deps;
  const number = (x) => Number(x || 0).toLocaleString(deps.locale());
  $("year-table").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: TEXT.period }),
      el("th", { scope: "col", text: TEXT.messages }),
      ...natures.map((n) => el("th", { scope: "col", text: deps.plural(n) })),
      el("th", { scope: "col", text: TEXT.urgent }))),
    el("tbody", {}, ...data.map((r) => el("tr", { "data-t": r.t },
      el("th", { scope: "row", text: r.t.includes("-W") ? r.t : label(r.t) }), el("td", { text: number(r.messages) }),
      ...natures.map((n) => el("td", { text: number(r.nature[n]) })),
      el("td", { text: number(r.urgency.high) })))));
}

export function resizeYear() {
  const box = $("year-chart");
  if (chart && box) chart.setSize({ width: Math.max(280, box.clientWidth - 8), height: 220 });
}
