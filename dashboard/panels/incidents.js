// Emerging issues: a banner for each open incident (GET /api/incidents), until someone acknowledges it
// (POST /api/incidents/{id}/ack; a viewer token is told it needs the operator token). Customer text is only
// ever set with textContent.

import { locale, number, t } from "../i18n.js";
import { topicName, zone } from "../core.js";

const POLL_MS = 15000;
let deps = null;
let last = 0; // when the open incidents were last asked for (0: not since the dashboard was shown)

export function initIncidents(dependencies) {
  deps = dependencies;
  // asked for as soon as the dashboard shows (signed in), then every POLL_MS while it does
  setInterval(() => {
    if (!deps.ready()) { last = 0; return; }
    if (Date.now() - last < POLL_MS) return;
    last = Date.now();
    show().catch(() => {}); // asked again at the next period
  }, 1000);
}

function banner(incident) {
  const { el } = deps;
  const where = incident.site ? deps.siteName(incident.site) : t("incidents.network");
  // the time alone when it opened today (in the site's zone), else the date too: one left open may be days old
  const timeZone = zone(incident.site);
  const day = (d) => new Intl.DateTimeFormat("en-CA", { timeZone }).format(d);
  const opened = new Date(incident.opened_at);
  const date = day(opened) === day(new Date()) ? {} : { day: "numeric", month: "short" };
  const since = new Intl.DateTimeFormat(locale(), { ...date, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    timeZone }).format(opened);
  const examples = el("ul", { class: "incident-examples" },
    ...incident.examples.map((m) => el("li", {}, el("span", { class: "muted", text: `${m.from || ""} ` }),
      el("q", { text: m.text }))));
  const button = el("button", { type: "button", text: t("incidents.acknowledge"), "data-incident": incident.id });
  button.addEventListener("click", () => acknowledge(incident.id, button));
  return el("div", { class: "incident", id: `incident-${incident.id}` },
    el("p", {},
      el("strong", { text: t("incidents.title", { topic: topicName(incident.topic), where }) }),
      el("span", { text: ` — ${t("incidents.figures", { observed: number(incident.observed),
        expected: number(incident.expected), since })}` })),
    examples, button);
}

async function show() {
  const box = document.getElementById("incidents");
  if (!box) return;
  const data = await deps.api("/api/incidents?status=open");
  box.replaceChildren(...data.items.map(banner));
  box.hidden = data.items.length === 0;
}

async function acknowledge(id, button) {
  button.disabled = true;
  try {
    const name = deps.who();
    await deps.api(`/api/incidents/${encodeURIComponent(id)}/ack`,
      { method: "POST", body: JSON.stringify(name ? { by: name } : {}) });
    await show();
  } catch (error) {
    if (error.status === 403) { // a viewer token: the route is the operator's
      button.replaceWith(deps.el("p", { class: "error", role: "alert", text: t("incidents.need_token") }));
      return;
    }
    button.disabled = false;
    deps.handle(error);
  }
}
