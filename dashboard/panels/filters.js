// The filter bar and the breadcrumb: site, period, topic, nature, channel, and the CSV export.
import { $, api, channelName, el, filters, hooks, period, plural, query, setFilters, siteName, state, topicName } from "../core.js";
import { language, t } from "../i18n.js";

export function fillSelect(select, options) {
  const first = select.options[0];
  select.replaceChildren(first, ...options.map(([value, label]) => el("option", { value, text: label })));
}

export function fillFilters(config) {
  fillSelect($("f-topic"), config.topics.map((name) => [name, topicName(name)]));
  fillSelect($("f-nature"), config.natures.map((n) => [n, plural(n)]));
  fillSelect($("f-channel"), Object.keys(config.channels || {}).map((c) => [c, channelName(c)]));
}

export function syncForm() {
  const f = filters();
  for (const key of ["period", "topic", "nature", "channel", "since", "until"]) $(`f-${key}`).value = f[key];
  $("f-site").dataset.value = f.site;
  if (document.activeElement !== $("f-site")) $("f-site").value = f.site ? siteName(f.site) : "";
  document.body.classList.toggle("custom-period", f.period === "custom");
}

export function renderCrumbs(f) {
  const crumbs = [[state.config.deployment || t("network"), { site: "", topic: "" }]];
  if (f.site) crumbs.push([siteName(f.site), { topic: "" }]);
  if (f.topic) crumbs.push([topicName(f.topic), {}]);
  $("crumbs").replaceChildren(...crumbs.map(([label, change], i) => el("li", {},
    i === crumbs.length - 1 ? el("span", { "aria-current": "page", text: label })
      : el("a", { href: "#", onclick: (e) => { e.preventDefault(); setFilters(change); }, text: label }))));
  $("scope").textContent = f.nature ? plural(f.nature) : "";
}

// the CSV for the reader: a French reader's opens in a French Excel (BOM, ";", decimal commas)
export async function exportCsv() {
  const f = filters();
  const { since, until } = period(f);
  try {
    const { blob, truncated } = await api(`/api/export.csv?${query({ site: f.site, topic: f.topic, nature: f.nature,
      channel: f.channel, since: since.toISOString(), until: until.toISOString(), locale: language() })}`);
    const link = el("a", { href: URL.createObjectURL(blob), download: `voix-${since.toISOString().slice(0, 10)}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    hooks.status(truncated ? t("export.truncated") : t("export.done"));
  } catch (error) { hooks.handle(error); }
}
