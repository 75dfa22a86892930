// Messages over time, stacked by nature (uPlot), with x-axis labels that never overlap.
import { $, colour, el, natures, plural, state, zone } from "../core.js";
import { locale, t } from "../i18n.js";

function buckets(since, until, bucket) {
  // Every bucket of the period, so that quiet hours show as zero rather than vanish.
  const step = bucket === "day" ? 86400e3 : 3600e3;
  const start = new Date(since);
  if (bucket === "day") start.setUTCHours(0, 0, 0, 0); else start.setUTCMinutes(0, 0, 0);
  const out = [];
  for (let x = start.getTime(); x <= until.getTime() && out.length < 2000; x += step) out.push(x / 1000);
  return out;
}

// x-axis labels: the viewer's locale, 24-hour times, the site's time zone. Daily buckets are UTC
// days (as the API counts them): they are named by their middle, the same date in any European zone.
function tickFormat(bucket, tz) {
  const f = bucket === "day"
    ? new Intl.DateTimeFormat(locale(), { day: "numeric", month: "short", timeZone: tz })
    : new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz });
  return (x) => f.format(new Date((bucket === "day" ? x + 43200 : x) * 1000));
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
  holder.replaceChildren(...marks.map((x) => {
    const label = el("span", { class: "x-label", "data-t": String(x), text: name(x) });
    label.style.left = `${u.over.offsetLeft + u.valToPos(x, "x")}px`;
    label.style.top = `${u.over.offsetTop + u.over.offsetHeight + 4}px`;
    return label;
  }));
}

export function renderChart(metrics, since, until, site) {
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
      stroke: getComputedStyle(document.body).color,
    }, { size: 60, stroke: getComputedStyle(document.body).color }],
    series: [{ label: t(metrics.bucket === "day" ? "chart.day" : "chart.hour"),
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
    box.append(el("p", { class: "muted", text: t("chart.empty") }));
    state.chart = null;
    return;
  }
  state.chart = new uPlot(opts, data, box);
}

export function resizeChart() {
  state.chart?.setSize({ width: Math.max(280, $("chart").clientWidth - 8), height: 240 });
}
