// Site scorecards: messages, compliments, complaints, their ratio and its trend, time to acknowledge.
import { $, duration, el, siteName, state } from "../core.js";
import { number, t } from "../i18n.js";
import { edges, rankedEnds, siteNote } from "./breakdowns.js";

const two = { minimumFractionDigits: 2, maximumFractionDigits: 2 };

function trendText(now, then) {
  if (now == null || then == null) return "–";
  // the change of the compliments-per-complaint ratio, in per cent of the previous period's
  const change = then ? Math.round((100 * (now - then)) / then) : null;
  const figure = change == null ? `${now - then >= 0 ? "+" : "−"}${number(Math.abs(now - then), two)}`
    : `${change > 0 ? "+" : change < 0 ? "−" : "±"}${number(Math.abs(change) / 100, { style: "percent" })}`;
  return now > then ? t("score.better", { figure }) : now < then ? t("score.worse", { figure }) : t("score.same");
}

export function renderScorecards(current, previous) {
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
    if (!row) return el("tr", { class: "gap" }, el("td", { colspan: "7", text: t("score.between", { n: number(ends.between) }) }));
    const [id, s] = row;
    const ratio = (x) => (x && x.nature.complaint ? x.nature.compliment / x.nature.complaint : null);
    const now = ratio(s);
    return el("tr", {},
      el("th", { scope: "row", text: siteName(id) }), el("td", { text: number(s.messages) }),
      el("td", { text: number(s.nature.compliment) }), el("td", { text: number(s.nature.complaint) }),
      el("td", { text: now == null ? "–" : number(now, two) }),
      el("td", { class: "trend", text: trendText(now, ratio(previous.sites[id])) }),
      el("td", { text: duration(s.median_seconds_to_acknowledge) }));
  }));
}
