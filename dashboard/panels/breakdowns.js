// The breakdowns: by topic, by channel, by site (the busiest and the quietest of a large network).
import { $, el, setFilters, siteName, state } from "../core.js";
import { locale, number, t, tn } from "../i18n.js";
import { openPicker } from "./picker.js";

export function renderBars(list, counts, onPick, labelOf) {
  const entries = Object.entries(counts).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  list.replaceChildren(...entries.map(([key, value]) => el("li", {},
    el("button", { type: "button", class: "bar", onclick: () => onPick(key) }, // named by its text: "staff: 2"
      el("span", { class: "bar-label", text: labelOf(key) }), el("span", { class: "visually-hidden", text: ": " }),
      el("span", { class: "bar-track" }, el("span", { class: "bar-fill", width: `${(100 * value) / max}%` })),
      el("span", { class: "bar-value", text: number(value) })))));
  if (!entries.length) list.append(el("li", { class: "muted", text: t("nothing_yet") }));
}

// -- many sites: the busiest and the quietest, any other through the site picker --------------
export const EDGE = 10; // sites shown at each end when there are more than twice as many

const complaints = (n) => tn("sites.complaints", n);

export function siteNote(id, shown, total, idle, ranked = null) {
  const note = $(id);
  note.hidden = !shown;
  if (!shown) return;
  const asOf = ranked?.as_of ? t("sites.ranked_at", { time: new Date(ranked.as_of).toLocaleTimeString(locale(),
    { hour: "2-digit", minute: "2-digit" }) }) : "";
  note.replaceChildren(
    ranked && !ranked.as_of ? t("sites.not_ranked_yet")
      : t("sites.ends", { edge: number(EDGE), total: number(total), as_of: asOf }),
    ...(idle ? [t("sites.idle", { n: number(idle) })] : []), t("sites.any_other"),
    el("button", { type: "button", class: "link", onclick: () => openPicker(), text: t("sites.find") }), ".");
}

// a large network: the API lists the sites its hourly ranking chose (sites_ranked), with the period's figures
export function rankedEnds(metrics) {
  const r = metrics.sites_ranked;
  const row = (x) => ({ id: x.site, messages: metrics.totals.site[x.site] || 0,
    complaints: metrics.sites?.[x.site]?.nature?.complaint || 0 });
  return { top: r.top.map(row), bottom: r.bottom.map(row), between: Math.max(0, r.of - r.top.length - r.bottom.length) };
}

// sites by messages, most first (then most complaints, then by name): both ends when there are many
export function edges(rows) {
  const sorted = [...rows].sort((a, b) => b.messages - a.messages || b.complaints - a.complaints
    || siteName(a.id).localeCompare(siteName(b.id), locale()));
  if (sorted.length <= 2 * EDGE) return null;
  return { top: sorted.slice(0, EDGE), bottom: sorted.slice(-EDGE), between: sorted.length - 2 * EDGE };
}

export function renderSiteBars(metrics) {
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
    // named by its text, the words a screen reader needs hidden in it: "Leeds: 120 messages, 4 complaints"
    el("button", { type: "button", class: "bar", onclick: () => pick(r.id), "data-site": r.id },
    el("span", { class: "bar-label", text: siteName(r.id), title: siteName(r.id) }),
    el("span", { class: "visually-hidden", text: ": " }),
    el("span", { class: "bar-track" }, el("span", { class: "bar-fill", width: `${(100 * r.messages) / max}%` },
      el("span", { class: "bar-complaints", width: `${(100 * r.complaints) / Math.max(1, r.messages)}%` }))),
    el("span", { class: "bar-value", text: number(r.messages) }),
    el("span", { class: "visually-hidden", text: ` ${t("sites.messages_word")}, ` }),
    el("span", { class: "bar-extra", text: r.complaints ? complaints(r.complaints) : "" })));
  list.replaceChildren(
    el("li", { class: "bars-group", text: t("sites.busiest", { n: number(EDGE) }) }), ...ends.top.map(bar),
    el("li", { class: "bars-gap", text: t("sites.between", { n: number(ends.between) }) }),
    el("li", { class: "bars-group", text: t("sites.quietest", { n: number(EDGE) }) }), ...ends.bottom.map(bar));
}
