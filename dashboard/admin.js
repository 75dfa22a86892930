// The settings pages (operator token only): sites and staff, replies, routing, the rules studio (admin-rules.js),
// and the history of the live configuration with rollback. Opened from the header's "Settings" link by URL
// (#settings=<page>), closed by "← Dashboard". Each page edits a copy of one section (GET /api/config/{section}) and publishes it whole
// (PUT with the version it was read at): 409 means another manager published meanwhile, 400 lists every
// invalid field by its path (sites[2].staff_sms[0]), shown next to that field when the page has one.
// Every text from the configuration is set with textContent or as a control's value.

import { locale, t as tr, tn } from "./i18n.js";
import { sitesPage } from "./admin-sites.js";
import { repliesPage } from "./admin-replies.js";
import { rulesPage } from "./admin-rules.js";

const t = (key, vars) => tr(`admin.${key}`, vars);
const PAGES = {
  sites: { title: () => t("tab_sites"), section: "sites", page: sitesPage },
  replies: { title: () => t("tab_replies"), section: "replies", page: repliesPage },
  routing: { title: () => t("tab_routing"), section: "routing", page: null }, // set below: routingPage
  rules: { title: () => t("tab_rules"), section: "rules", page: rulesPage },
  history: { title: () => t("tab_history"), section: null, page: null },
};

let deps; // from app.js: api, el, handle, signedOut, who, ready
const admin = { tab: null, version: null, data: null, page: null, busy: false };
const $ = (id) => document.getElementById(id);

export const adminIsOpen = () => admin.tab !== null;

function tabFromHash() {
  const match = /^#settings(?:=(\w+))?$/.exec(location.hash);
  if (!match) return null;
  return PAGES[match[1]] ? match[1] : "sites";
}

// -- words a manager understands ---------------------------------------------------------------------
const FIELD_NAMES = {
  id: "identifier", name: "name", short_name: "short name", kind: "kind", language: "language",
  timezone: "time zone", numbers: "phone number", codes: "code", staff_sms: "staff SMS number",
  manager_email: "manager e-mail", manager_sms: "manager SMS number", roster: "roster", text: "text",
  no_offer: "text without an offer", when: "conditions", sms: "SMS recipients", email: "e-mail recipients",
  en: "English", fr: "French", days: "days", start: "start hour", end: "end hour", phrases: "phrases",
};

const MESSAGES = [
  [/^Field required$/, "is required"],
  [/^String should match pattern .*/, "has characters that are not allowed (lower-case letters, digits, -)"],
  [/^String should have at least 1 character$/, "may not be empty"],
  [/^List should have at least 1 item.*/, "needs at least one entry"],
  [/^Input should be (.*)$/, "should be $1"],
  [/^Extra inputs are not permitted$/, "is not a setting Voix knows"],
];

export function words(path, message) {
  let text = message;
  for (const [pattern, replacement] of MESSAGES) text = text.replace(pattern, replacement);
  if (!path || path === "(top level)") return text.charAt(0).toUpperCase() + text.slice(1);
  const parts = [];
  const site = /^sites\[(\d+)\]/.exec(path);
  if (site) {
    const s = admin.data?.sites?.[Number(site[1])];
    parts.push(s ? `Site “${s.name || s.id || `new site ${Number(site[1]) + 1}`}”` : `Site ${Number(site[1]) + 1}`);
  }
  const rule = /^(replies|routing|lexicon)\[(\d+)\]/.exec(path);
  if (rule) {
    const r = admin.data?.[rule[1]]?.[Number(rule[2])];
    const kind = { replies: "Reply", routing: "Routing rule", lexicon: "Group" }[rule[1]];
    parts.push(`${kind} “${r?.name || Number(rule[2]) + 1}”`);
  }
  const rest = path.replace(/^(sites|replies|routing|lexicon)\[\d+\]\.?/, "");
  const field = rest.split(/[.[\]]+/).filter(Boolean).map((p) => (/^\d+$/.test(p) ? `${Number(p) + 1}` : FIELD_NAMES[p] || p));
  if (field.length) parts.push(field.join(" "));
  return `${parts.join(", ") || path}: ${text}`;
}

// "invalid configuration: a: x; b: y" → [{ path, message }]
export function problems(error) {
  const body = error.replace(/^invalid configuration:\s*/, "");
  return body.split(/; (?=(?:\(top level\)|\w+(?:\[\d+\]|\.[\w-]+)*): )/).map((item) => {
    const match = /^(\(top level\)|\w+(?:\[\d+\]|\.[\w-]+)*): (.*)$/s.exec(item);
    return match ? { path: match[1], message: match[2] } : { path: "", message: item };
  });
}

// -- the frame --------------------------------------------------------------------------------------
function build(root) {
  const { el } = deps;
  root.replaceChildren(
    el("p", { class: "admin-back" }, el("a", { id: "admin-back", href: "#", text: t("back") })),
    el("h2", { id: "admin-title", tabindex: "-1", text: t("settings") }),
    el("nav", { "aria-label": t("pages") },
      el("ul", { class: "admin-tabs" }, ...Object.entries(PAGES).map(([key, p]) =>
        el("li", {}, el("a", { href: `#settings=${key}`, "data-tab": key, text: p.title() }))))),
    el("p", { id: "admin-status", class: "admin-status", role: "status" }),
    el("div", { id: "admin-problems", class: "admin-problems", role: "alert", tabindex: "-1" }),
    el("div", { id: "admin-body", class: "admin-body" }),
    el("form", { id: "admin-publish", class: "card admin-publish", novalidate: "" },
      el("label", { for: "admin-comment", text: t("comment") }),
      el("input", { id: "admin-comment", type: "text", maxlength: "500", autocomplete: "off" }),
      el("p", { id: "admin-blocked", class: "error", hidden: "" }),
      el("div", { class: "row" },
        el("button", { id: "admin-submit", type: "submit", text: t("publish") }),
        el("button", { id: "admin-reload", type: "button", class: "secondary", hidden: "", text: t("reload") }),
        el("span", { id: "admin-version", class: "muted" }))));
  $("admin-back").addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState(null, "", location.pathname + location.search);
    route();
  });
  $("admin-publish").addEventListener("submit", (event) => { event.preventDefault(); publish(); });
  $("admin-reload").addEventListener("click", () => load(admin.tab, t("reloaded")));
}

function say(text, isError = false) {
  $("admin-status").textContent = text;
  $("admin-status").classList.toggle("error", isError);
}

function clearProblems() {
  $("admin-problems").replaceChildren();
  for (const node of $("admin-body").querySelectorAll(".field-error")) node.remove();
  for (const node of $("admin-body").querySelectorAll("[aria-invalid=true]")) {
    node.removeAttribute("aria-invalid");
    node.setAttribute("aria-describedby", (node.dataset.describedby || "").trim());
    if (!node.getAttribute("aria-describedby")) node.removeAttribute("aria-describedby");
  }
}

// the control a path names, or the nearest one above it (sites[2].numbers[1] → the numbers input)
function fieldFor(path) {
  let p = path;
  while (p) {
    admin.page?.reveal?.(p);
    const node = $("admin-body").querySelector(`[data-path="${CSS.escape(p)}"]`);
    if (node) return node;
    const shorter = p.replace(/(\[\d+\]|\.[\w-]+)$/, "");
    if (shorter === p) break;
    p = shorter;
  }
  return null;
}

let errorSeq = 0;
export function markField(node, text) {
  const id = `admin-error-${++errorSeq}`;
  if (!("describedby" in node.dataset)) node.dataset.describedby = node.getAttribute("aria-describedby") || "";
  node.setAttribute("aria-invalid", "true");
  node.setAttribute("aria-describedby", `${node.dataset.describedby} ${id}`.trim());
  const note = deps.el("p", { class: "error field-error", id, text });
  (node.closest(".field") || node).after(note);
}

function showProblems(message) {
  const list = problems(message);
  const loose = [];
  let first = null;
  for (const { path, message: text } of list) {
    const node = path ? fieldFor(path) : null;
    if (node) { markField(node, words(path, text)); first ||= node; } else loose.push(words(path, text));
  }
  const { el } = deps;
  $("admin-problems").replaceChildren(
    el("p", { text: t("not_published", { problems: tn("admin.problems", list.length),
      marked: loose.length < list.length ? t("marked") : "" }) }),
    ...(loose.length ? [el("ul", {}, ...loose.map((text) => el("li", { text })))] : []));
  (first || $("admin-problems")).focus?.();
}

// the page says whether it can be published (a too-long reply, JSON that does not parse: not yet)
function check() {
  const blocked = admin.page?.blocked?.() || "";
  $("admin-blocked").textContent = blocked;
  $("admin-blocked").hidden = !blocked;
  $("admin-submit").disabled = Boolean(blocked) || admin.busy;
}

async function load(tab, message = "") {
  const info = PAGES[tab];
  clearProblems();
  $("admin-reload").hidden = true;
  $("admin-body").replaceChildren(deps.el("p", { class: "muted", text: tr("loading") }));
  $("admin-publish").hidden = !info.section;
  say(message);
  try {
    if (!info.section) {
      admin.page = null;
      await historyPage();
      return;
    }
    const read = await deps.api(`/api/config/${info.section}`);
    if (admin.tab !== tab) return;
    admin.version = read.version;
    admin.data = read.data;
    admin.page = info.page;
    $("admin-body").replaceChildren();
    info.page.render($("admin-body"), read.data, { el: deps.el, changed: check, mark: markField, api: deps.api, failed,
      describe: (message) => problems(message).map((p) => words(p.path, p.message)) });
    $("admin-version").textContent = t("editing", { version: read.version });
    $("admin-comment").value = "";
    check();
  } catch (error) {
    failed(error);
  } finally {
    $("admin").dataset.loaded = String(Date.now());
  }
}

function failed(error) {
  if (deps.signedOut(error)) { deps.handle(error); return; }
  if (error.status === 403) {
    $("admin-body").replaceChildren(deps.el("p", { class: "error", text: t("need_token") }));
    $("admin-publish").hidden = true;
    return;
  }
  say(error.message, true);
}

async function publish() {
  if (admin.busy || !admin.page) return;
  clearProblems();
  check();
  if ($("admin-submit").disabled) return;
  admin.busy = true;
  check();
  const section = PAGES[admin.tab].section;
  const body = { data: admin.data, base_version: admin.version };
  const comment = $("admin-comment").value.trim();
  const by = deps.who();
  if (comment) body.comment = comment;
  if (by) body.by = by;
  try {
    const done = await deps.api(`/api/config/${section}`, { method: "PUT", body: JSON.stringify(body) });
    await load(admin.tab, t("published", { version: done.version, changes: tn("admin.changes", done.changed) }));
  } catch (error) {
    if (error.status === 409) {
      say(t("conflict"), true);
      $("admin-reload").hidden = false;
      $("admin-reload").focus();
    } else if (error.status === 400 && /^invalid configuration/.test(error.message)) {
      showProblems(error.message);
    } else {
      failed(error);
    }
  } finally {
    admin.busy = false;
    check();
  }
}

// -- routing: who is alerted ------------------------------------------------------------------------
// version 1's author and comment, as the API gives them (chalicelib/live_config.py): shown in the reader's language
const SEED_AUTHOR = "the shipped files";
const SEED_COMMENT = "version 1: the shipped files";
const RECIPIENTS = { site_staff: () => t("to_staff"), site_manager: () => t("to_manager"), care: () => t("to_care") };

const routingPage = {
  render(root, data, { el, changed }) {
    const rules = data.routing || (data.routing = []);
    const list = el("div", { class: "admin-list" });
    const draw = () => {
      list.replaceChildren(...rules.map((rule, i) => {
        const id = `rt-${i}`;
        const when = el("textarea", { id: `${id}-when`, rows: "3", spellcheck: "false", "data-path": `routing[${i}].when`,
          "aria-describedby": `${id}-when-help` });
        when.value = JSON.stringify(rule.when || {});
        const note = el("p", { class: "error", id: `${id}-when-error`, role: "alert" });
        when.addEventListener("input", () => {
          try {
            const value = JSON.parse(when.value || "{}");
            if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
            rule.when = value;
            delete when.dataset.bad;
            note.textContent = "";
          } catch {
            when.dataset.bad = "1";
            note.textContent = t("bad_json");
          }
          changed();
        });
        const boxes = (channel, label) => el("fieldset", { class: "checks", "data-path": `routing[${i}].${channel}` },
          el("legend", { text: label }),
          ...Object.entries(RECIPIENTS).map(([value, text]) => {
            const box = el("input", { type: "checkbox", id: `${id}-${channel}-${value}`, value });
            box.checked = (rule[channel] || []).includes(value);
            box.addEventListener("change", () => {
              rule[channel] = Object.keys(RECIPIENTS).filter((v) => (v === value ? box.checked : (rule[channel] || []).includes(v)));
              changed();
            });
            return el("label", { for: box.id }, box, ` ${text()}`);
          }));
        const name = el("input", { id: `${id}-name`, type: "text", "data-path": `routing[${i}].name` });
        name.value = rule.name || "";
        name.addEventListener("input", () => { rule.name = name.value; changed(); });
        const remove = el("button", { type: "button", class: "secondary", text: t("remove_rule") });
        remove.addEventListener("click", () => { rules.splice(i, 1); draw(); changed(); });
        return el("fieldset", { class: "card admin-item" }, el("legend", { text: t("rule", { n: i + 1 }) }),
          el("div", { class: "field" }, el("label", { for: name.id, text: t("name") }), name),
          el("div", { class: "field" }, el("label", { for: when.id, text: t("when") }), when,
            el("p", { class: "muted help", id: `${id}-when-help`,
              text: t("when_help") }),
            note),
          boxes("sms", t("alert_sms")), boxes("email", t("alert_email")), remove);
      }));
    };
    const add = el("button", { type: "button", class: "secondary", text: t("add_rule") });
    add.addEventListener("click", () => {
      rules.push({ name: "new rule", when: {}, sms: [], email: [] });
      draw();
      changed();
      list.lastElementChild.querySelector("input").focus();
    });
    root.append(el("p", { class: "muted", text: t("routing_help") }),
      list, add);
    draw();
  },
  blocked: () => ($("admin-body").querySelector("textarea[data-bad]") ? t("rule_bad_json") : ""),
};
PAGES.routing.page = routingPage;

// -- history and rollback ---------------------------------------------------------------------------
async function historyPage() {
  const { el } = deps;
  const answer = await deps.api("/api/config/history?limit=50");
  if (admin.tab !== "history") return;
  const when = (iso) => (iso ? new Intl.DateTimeFormat(locale(),
    { dateStyle: "medium", timeStyle: "short", hourCycle: "h23" }).format(new Date(iso)) : "");
  const items = answer.items.map((v) => {
    const changes = el("ul", { class: "changes" }, ...v.changes.slice(0, 20).map((c) =>
      el("li", {}, el("code", { text: c.path }), ` ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`)));
    if (v.changed > 20) changes.append(el("li", { class: "muted", text: t("more", { n: v.changed - 20 }) }));
    const item = el("li", { class: "card admin-version", "data-version": String(v.version) },
      el("h3", { text: t(v.version === answer.latest ? "version_in_force" : "version", { version: v.version }) }),
      el("p", { class: "meta", text: [when(v.at), !v.author || v.author === SEED_AUTHOR ? t("shipped") : v.author,
        v.touched.length ? t("changed", { what: v.touched.map((s) => PAGES[s]?.title() || s).join(", ") }) : "",
        v.rollback_of ? t("rollback_to", { version: v.rollback_of }) : ""]
        .filter(Boolean).join(" · ") }),
      ...(v.comment ? [el("p", { class: "comment", text: v.comment === SEED_COMMENT ? t("seed_comment") : v.comment })] : []),
      changes);
    if (v.version !== answer.latest) {
      const button = el("button", { type: "button", class: "secondary", text: t("roll_back", { version: v.version }) });
      button.addEventListener("click", () => rollback(v.version));
      item.append(button);
    }
    return item;
  });
  $("admin-body").replaceChildren(el("ol", { id: "admin-history", class: "admin-history" }, ...items));
}

async function rollback(version) {
  if (!window.confirm(t("confirm_rollback", { version }))) return;
  const by = deps.who();
  try {
    const done = await deps.api("/api/config/rollback", { method: "POST",
      body: JSON.stringify({ version, ...(by ? { by } : {}) }) });
    await load("history", t("rolled_back", { version: done.version, old: version }));
  } catch (error) {
    failed(error);
  }
}

// -- opening and closing ----------------------------------------------------------------------------
function open(tab, fresh) {
  const root = $("admin");
  if (!root.childElementCount) build(root);
  document.body.classList.add("admin-open");
  root.hidden = false;
  for (const link of root.querySelectorAll("[data-tab]")) {
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  $("admin-title").textContent = t("title", { page: PAGES[tab].title() });
  document.title = `${t("title", { page: PAGES[tab].title() })} — Voix`;
  if (admin.tab !== tab || fresh) {
    admin.tab = tab;
    load(tab);
  }
  $("admin-title").focus();
}

function close(back) {
  admin.tab = null;
  admin.page = null;
  $("admin").hidden = true;
  document.body.classList.remove("admin-open");
  document.title = admin.title;
  if (back) $("settings-link").focus();
}

// ``fresh``: just signed in (perhaps with another token): the page is read again
export function route(fresh = false) {
  const tab = tabFromHash();
  if (tab) open(tab, fresh);
  else if (admin.tab !== null && (!location.hash || location.hash.startsWith("#case="))) close(!location.hash);
}

export function initAdmin(dependencies) {
  deps = dependencies;
  admin.title = document.title;
  window.addEventListener("hashchange", () => { if (deps.ready()) route(); });
}
