// Surveys: what was sent, and what quiet hours hold.
import { $, api, badge, el, query, siteName, state } from "../core.js";
import { locale, number, t } from "../i18n.js";

const SURVEY_SITES_MAX = 12; // the whole network's surveys are read site by site, up to this many sites

function heldText(held) {
  const until = new Intl.DateTimeFormat(locale(), { weekday: "short", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZone: held.timezone }).format(new Date(held.until));
  return t("surveys.held", { n: number(held.count), until, zone: held.timezone.split("/").pop().replace("_", " ") });
}

export function renderSurveys(reports) {
  const rows = reports.flatMap((r) => r.surveys).slice(0, 20);
  $("surveys").replaceChildren(...rows.map((s) => el("li", { class: `survey${s.held ? " held" : ""}`, "data-id": s.id },
    el("div", { class: "meta" }, badge("site", siteName(s.site)), el("strong", { text: s.name }),
      el("span", { text: t("surveys.sent", { sent: number(s.sent), of: number(s.recipients) }) }),
      el("span", { text: s.response_rate == null ? "" : t("surveys.answered", { rate: number(s.response_rate, { style: "percent" }) }) })),
    ...(s.held ? [el("p", { class: "held-note", text: heldText(s.held) })] : []))));
  if (!rows.length) $("surveys").append(el("li", { class: "muted", text: t("surveys.none") }));
}

export async function surveys(site) {
  const sites = site ? [site] : state.config.sites.map((s) => s.id);
  if (sites.length > SURVEY_SITES_MAX) return { reports: [], tooMany: true };
  return { reports: await Promise.all(sites.map((id) => api(`/api/surveys?${query({ site: id })}`))) };
}
