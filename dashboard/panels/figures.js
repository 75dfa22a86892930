// The headline figures: messages, a share per nature, urgent, open cases, time to acknowledge.
import { $, duration, el, natures, pct, plural } from "../core.js";
import { number } from "../i18n.js";

export function renderNatureKpis() {
  // one headline figure per nature the configuration knows, before "Urgent"
  for (const old of document.querySelectorAll(".kpi.nature")) old.remove();
  $("k-urgent").parentElement.before(...natures().map((n) => el("div", { class: "kpi nature" },
    el("span", { class: "label", text: plural(n).replace(/ \(.*\)$/, "") }), el("strong", { id: `k-${n}`, text: "–" }))));
}

export function renderKpis(metrics, openCount, more = false) {
  const t = metrics.totals;
  $("k-messages").textContent = number(t.messages);
  for (const nature of natures()) $(`k-${nature}`).textContent = pct(t.nature[nature] || 0, t.messages);
  $("k-urgent").textContent = number(t.urgency.high);
  $("k-open").textContent = `${number(openCount)}${more ? "+" : ""}`;
  $("k-ack").textContent = duration(t.median_seconds_to_acknowledge);
}
