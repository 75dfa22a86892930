// Corrections that teach: a manager relabels a message of the live feed (PATCH /api/feedback/{id}),
// and the "Label quality" card shows what the corrections say of the classifier (/api/metrics/quality).
// Customer text is never touched here; labels are set with textContent only.

import { number, t, term, tn } from "./i18n.js";

const DIMENSIONS = ["topic", "nature", "urgency"];
const URGENCIES = ["normal", "high"]; // the API's (chalicelib/configuration.py)
const MAX_DAYS = 31; // the longest period /api/metrics/quality answers

let deps = null;
const editing = new Map(); // message id -> the form's values, kept across a re-render of the feed
let last = null; // the quality card's current view: { site, since, until }
let seq = 0;

const $ = (id) => document.getElementById(id);

export function initCorrections(dependencies) {
  deps = dependencies;
}

function options(dimension) {
  const config = deps.config() || {};
  if (dimension === "topic") return config.topics || [];
  if (dimension === "nature") return config.natures || [];
  return URGENCIES;
}

const domId = (m) => `fix-${m.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;

// what decorates a feed item: the "corrected" mark with the machine's labels, and the Correct control
export function decorate(item, m) {
  const note = deps.el("p", { class: "fix-note", id: `${domId(m)}-note`, role: "status" });
  if (m.corrected && m.machine) {
    item.classList.add("corrected");
    item.querySelector(".meta").append(deps.el("span", { class: "badge corrected", text: t("fix.corrected") }),
      deps.el("span", { class: "was", text: t("fix.was", { labels: labels(m.machine) }),
      title: m.corrected_by ? t("fix.corrected_by", { name: m.corrected_by }) : "" }));
  }
  const button = deps.el("button", { type: "button", class: "secondary fix-open", "aria-expanded": "false",
    "aria-controls": `${domId(m)}-form`, "aria-label": t("fix.open_label"), text: t("fix.open") });
  const bar = deps.el("div", { class: "fix" }, button, note);
  button.addEventListener("click", () => open(item, m, bar, button));
  item.append(bar);
  if (editing.has(m.id)) open(item, m, bar, button, editing.get(m.id)); // a refresh keeps an open form
  return item;
}

function open(item, m, bar, button, kept = null) {
  if (bar.querySelector("form")) return;
  const values = kept || { topic: m.topic, nature: m.nature, urgency: m.urgency, focus: "topic" };
  editing.set(m.id, values);
  const base = domId(m);
  const selects = DIMENSIONS.map((d) => {
    const list = options(d).includes(m[d]) ? options(d) : [m[d], ...options(d)];
    const select = deps.el("select", { id: `${base}-${d}`, name: d },
      ...list.map((v) => deps.el("option", { value: v, text: d === "urgency" && v === "high" ? t("fix.high_urgent") : term(d, v) })));
    select.value = values[d];
    select.addEventListener("change", () => { values[d] = select.value; });
    select.addEventListener("focus", () => { values.focus = d; });
    return deps.el("label", { for: select.id, text: `${t(`fix.${d}`)} ` }, select);
  });
  const cancel = deps.el("button", { type: "button", class: "secondary", text: t("fix.cancel") });
  const form = deps.el("form", { class: "fix-form", id: `${base}-form`, "aria-label": t("fix.form_label") },
    ...selects, deps.el("div", { class: "fix-buttons" },
      deps.el("button", { type: "submit", text: t("fix.save") }), cancel));
  const close = () => {
    editing.delete(m.id);
    form.remove();
    button.hidden = false;
    button.setAttribute("aria-expanded", "false");
    button.focus();
  };
  cancel.addEventListener("click", close);
  form.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); close(); } });
  form.addEventListener("submit", (event) => { event.preventDefault(); save(item, m, values, bar); });
  button.hidden = true;
  button.setAttribute("aria-expanded", "true");
  bar.prepend(form);
  const focus = () => $(`${base}-${values.focus}`)?.focus();
  if (!kept) focus(); // opened by its button: on the first select
  else if (kept.focused) setTimeout(focus); // a refresh re-drew the feed under the user's focus: give it back
  form.addEventListener("focusin", () => { values.focused = true; });
  // leaving the form forgets it; the form being replaced by a refresh of the feed (no next target) does not
  form.addEventListener("focusout", (e) => { if (e.relatedTarget && !form.contains(e.relatedTarget)) values.focused = false; });
}

function say(bar, text, error = false) {
  const note = bar.querySelector(".fix-note");
  note.textContent = text;
  note.classList.toggle("error", error);
}

async function save(item, m, values, bar) {
  if (values.busy) return;
  const changes = Object.fromEntries(DIMENSIONS.filter((d) => values[d] !== m[d]).map((d) => [d, values[d]]));
  if (!Object.keys(changes).length) {
    say(bar, t("fix.nothing"), true);
    return;
  }
  const by = deps.who();
  if (!by) {
    say(bar, t("fix.name_first"), true);
    $("who").focus();
    return;
  }
  values.busy = true;
  try {
    const done = await deps.api(`/api/feedback/${encodeURIComponent(m.id)}`,
      { method: "PATCH", body: JSON.stringify({ ...changes, by }) });
    editing.delete(m.id);
    const fresh = deps.item(done);
    item.replaceWith(fresh);
    say(fresh.querySelector(".fix"), t("fix.done", { labels: labels(done) }));
    fresh.querySelector(".fix-open").focus();
    if (last) quality(last.site, last.since, last.until);
  } catch (error) {
    values.busy = false;
    if (deps.signedOut(error)) { deps.handle(error); return; }
    say(bar, words(error), true);
  }
}

function words(error) {
  if (error.status === 403) return t("fix.error_403");
  if (error.status === 404) return t("fix.error_404");
  if (error.status === 409 && /not counted yet/.test(error.message)) return t("fix.error_counting");
  if (error.status === 409 && /nothing to change/.test(error.message)) return t("fix.error_same");
  if (error.status === 409) return t("fix.error_conflict");
  if (error.status === 400) return t("fix.error_400", { message: error.message });
  return t("fix.error", { message: error.message });
}

// -- the Label quality card ----------------------------------------------------------------------
const share = (x) => (x == null ? "–" : number(x, { style: "percent" }));

// a message's labels in the reader's language: "staff / complaint / urgent"
function labels(m) {
  return [term("topic", m.topic), term("nature", m.nature), ...(m.urgency === "high" ? [t("badge.urgent")] : [])].join(" / ");
}

function dimensionBlock(name, figures) {
  const el = deps.el;
  const rows = Object.entries(figures.labels).filter(([, s]) => s.predicted || s.actual);
  const pairs = Object.entries(figures.confusion).flatMap(([machine, row]) => Object.entries(row)
    .filter(([corrected, n]) => corrected !== machine && n).map(([corrected, n]) => [machine, corrected, n]))
    .sort((a, b) => b[2] - a[2]);
  const caption = t(`fix.${name}`);
  const named = (label) => term(name, label);
  return el("div", { class: "q-dim", "data-dimension": name },
    el("h3", { text: caption }),
    rows.length ? el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
      el("table", { class: "q-labels" },
      el("caption", { class: "visually-hidden", text: t("quality.caption", { dimension: caption }) }),
      el("thead", {}, el("tr", {}, ...["label", "machine", "right", "precision", "recall"]
        .map((h) => el("th", { scope: "col", text: t(`quality.${h}`) })))),
      el("tbody", {}, ...rows.map(([label, s]) => el("tr", { "data-label": label },
        el("th", { scope: "row", text: named(label) }), el("td", { text: number(s.predicted) }), el("td", { text: number(s.actual) }),
        el("td", { text: share(s.precision) }), el("td", { text: share(s.recall) }))))))
      : el("p", { class: "muted", text: t("quality.none") }),
    pairs.length ? el("ul", { class: "q-pairs", "aria-label": t("quality.pairs", { dimension: caption }) },
      ...pairs.map(([machine, corrected, n]) => el("li", { "data-pair": `${machine}>${corrected}`,
        text: `${named(machine)} → ${named(corrected)}: ${tn("quality.messages", n)}` })))
      : el("p", { class: "muted", text: rows.length ? t("quality.confirmed") : "" }));
}

export async function quality(site, since, until) {
  last = { site, since, until };
  const mine = ++seq;
  const box = $("quality");
  const start = until - since > MAX_DAYS * 86400e3 ? new Date(until - MAX_DAYS * 86400e3) : since;
  try {
    const q = new URLSearchParams({ since: start.toISOString(), until: until.toISOString() });
    if (site) q.set("site", site);
    const data = await deps.api(`/api/metrics/quality?${q}`);
    if (mine !== seq) return;
    box.replaceChildren(
      deps.el("p", { class: "q-total" }, deps.el("strong", { id: "q-corrected", text: String(data.corrected) }),
        ` ${tn("quality.corrected", data.corrected)}${start > since ? t("quality.last_days", { n: MAX_DAYS }) : ""}.`),
      ...(data.corrected ? DIMENSIONS.map((d) => dimensionBlock(d, data[d])) : []));
    box.dataset.loaded = String(Date.now());
  } catch (error) {
    if (mine !== seq || deps.signedOut(error)) return;
    box.replaceChildren(deps.el("p", { class: "error", text: t("quality.error", { message: error.message }) }));
  }
}
