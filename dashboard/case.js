// The case page: one case's conversation with the customer, the reply box (with its live SMS segment
// counter and the templates), assign, acknowledge, resolve. Opened from the open cases list or by URL
// (#case=<id>); polled every second while open, so a customer's answer shows within two seconds.
// Customer and staff text is only ever set with textContent.

import { t as tr, term } from "./i18n.js";
import { measure, plain } from "./sms.js";

const POLL_MS = 1000;

// Every string this page shows is in the catalogue (dashboard.case.*), in the reader's language.
const t = (key, vars = {}) => tr(`case.${key}`, vars);

const TICKS = { scheduled: "◷", queued: "…", sent: "✓", delivered: "✓✓", failed: "✕", undelivered: "✕" };

let deps; // from app.js: api, el, handle, signedOut, siteName, zone, locale, who, ready, afterClose
const page = { id: null, data: null, timer: null, inFlight: false, sending: false, nodes: new Map(), templates: [] };
const $ = (id) => document.getElementById(id);

export const caseIsOpen = () => page.id !== null;

function caseFromHash() {
  const match = /^#case=([A-Za-z0-9]{1,40})$/.exec(location.hash);
  return match ? match[1] : null;
}

function when(iso, site) {
  if (!iso) return "";
  const tz = deps.zone(site);
  const date = new Date(iso);
  const day = (d) => new Intl.DateTimeFormat("en-CA", { timeZone: tz }).format(d);
  const options = day(date) === day(new Date()) ? { timeStyle: "short" } : { dateStyle: "short", timeStyle: "short" };
  return new Intl.DateTimeFormat(deps.locale(), { ...options, hourCycle: "h23", timeZone: tz }).format(date);
}

// -- the page's frame, built once ------------------------------------------------------------------
function build(root) {
  const { el } = deps;
  root.replaceChildren(
    el("p", { class: "case-back" }, el("a", { id: "case-back", href: "#", text: `← ${t("back")}` })),
    el("p", { id: "case-status", class: "case-status", role: "status" }),
    el("div", { class: "case-grid" },
      el("section", { class: "card case-main", "aria-labelledby": "case-title" },
        el("h2", { id: "case-title", tabindex: "-1" }),
        el("div", { id: "case-badges", class: "meta" }),
        el("h3", { id: "case-thread-title", class: "sr-only", text: t("thread") }),
        el("ol", { id: "case-thread", class: "thread", tabindex: "0", "aria-label": t("threadLabel"),
          "aria-live": "polite", "aria-relevant": "additions text" }),
        el("form", { id: "case-reply", class: "reply", "aria-labelledby": "case-reply-title", novalidate: "" },
          el("h3", { id: "case-reply-title", text: t("replyTitle") }),
          el("div", { class: "reply-tools" },
            el("label", { for: "case-template", text: t("template") }),
            el("select", { id: "case-template" })),
          el("label", { for: "case-text", text: t("replyLabel") }),
          el("textarea", { id: "case-text", rows: "4", maxlength: "1600", "aria-describedby": "case-count case-keys" }),
          el("p", { id: "case-count", class: "counter" }),
          el("p", { id: "case-keys", class: "muted keys", text: t("keys") }),
          el("p", { id: "case-error", class: "error", role: "alert" }),
          el("button", { id: "case-send", type: "submit", text: t("send") }))),
      el("aside", { class: "card case-side", "aria-label": t("details") },
        el("dl", { id: "case-facts", class: "facts" }),
        el("form", { id: "case-assign", class: "assign" },
          el("label", { for: "case-assignee", text: t("assignLabel") }),
          el("div", { class: "row" },
            el("input", { id: "case-assignee", type: "text", maxlength: "80", autocomplete: "off",
              placeholder: t("assignPlaceholder") }),
            el("button", { id: "case-assign-button", type: "submit", class: "secondary", text: t("assign") }))),
        el("div", { class: "actions" },
          el("button", { id: "case-ack", type: "button", class: "secondary", text: t("acknowledge") }),
          el("button", { id: "case-resolve", type: "button", text: t("resolve") })),
        el("h3", { text: t("history") }),
        el("ul", { id: "case-history", class: "history" }))));

  $("case-back").addEventListener("click", (event) => { event.preventDefault(); leave(); });
  $("case-text").addEventListener("input", count);
  $("case-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("case-reply").requestSubmit();
    }
  });
  $("case-reply").addEventListener("submit", (event) => { event.preventDefault(); send(); });
  $("case-template").addEventListener("change", useTemplate);
  $("case-assign").addEventListener("submit", (event) => { event.preventDefault(); assign(); });
  $("case-ack").addEventListener("click", () => act("ack"));
  $("case-resolve").addEventListener("click", () => act("resolve"));
  count();
}

// -- rendering the case ----------------------------------------------------------------------------
function badge(kind, value, text = value) {
  return deps.el("span", { class: `badge ${kind}-${value}`, text });
}

function renderHead(c) {
  const { el } = deps;
  const code = c.code || c.id;
  $("case-title").textContent = t("title", { code });
  document.title = t("docTitle", { code });
  $("case-badges").replaceChildren(
    badge("status", c.status, t(`status_${c.status}`)), badge("site", deps.siteName(c.site)),
    badge("topic", c.topic, term("topic", c.topic)), badge("nature", c.nature, term("nature", c.nature)),
    ...(c.urgency === "high" ? [badge("urgency", "urgent", t("urgent"))] : []),
    el("span", { class: "who", text: c.customer || "" }),
    el("time", { datetime: c.received_at || "", text: t("received", { time: when(c.received_at, c.site) }) }));
  const facts = [[t("assignee"), c.assignee || t("nobody")]];
  if (c.promised_at) facts.push([t("due"), when(c.promised_at, c.site)]);
  if (c.first_reply_at) facts.push([t("firstReply"), t("firstReplyAfter", { time: when(c.first_reply_at, c.site),
    minutes: Math.round((c.first_response_seconds || 0) / 60) })]);
  if (c.promise_kept !== null && c.promise_kept !== undefined) facts.push(["", t(c.promise_kept ? "promiseKept" : "promiseMissed")]);
  if (c.acknowledged_by) facts.push([t("ackBy"), `${c.acknowledged_by} · ${when(c.acknowledged_at, c.site)}`]);
  if (c.resolved_by) facts.push([t("resolvedBy"), `${c.resolved_by} · ${when(c.resolved_at, c.site)}`]);
  if (c.reopened_at) facts.push(["", t("reopened", { time: when(c.reopened_at, c.site) })]);
  $("case-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  $("case-facts").dataset.assignee = c.assignee || "";
  $("case-ack").hidden = c.status !== "open";
  $("case-resolve").hidden = c.status === "resolved";
  renderTemplates(c.templates || []);
  // the reply goes back on the channel of the customer's latest message (WhatsApp: its 24-hour rule)
  const last = (c.conversation || []).filter((m) => m.direction === "in").pop();
  const label = { whatsapp: "replyLabelWhatsApp", email: "replyLabelEmail" }[last?.channel] || "replyLabel";
  $("case-text").labels[0].textContent = t(label);
  renderHistory(c.history || []);
}

function renderTemplates(templates) {
  const select = $("case-template");
  const key = JSON.stringify(templates);
  if (select.dataset.key === key) return; // keep the user's place while polling
  select.dataset.key = key;
  select.replaceChildren(deps.el("option", { value: "", text: t("noTemplate") }),
    ...templates.map((x) => deps.el("option", { value: x.id, text: x.title })));
  select.disabled = !templates.length;
  page.templates = templates;
}

function renderHistory(items) {
  const { el } = deps;
  const key = JSON.stringify(items);
  if ($("case-history").dataset.key === key) return;
  $("case-history").dataset.key = key;
  $("case-history").replaceChildren(...items.map((h) => el("li", {},
    el("a", { href: `#case=${encodeURIComponent(h.id)}`, text: t("historyItem", { time: when(h.created_at, h.site),
      site: deps.siteName(h.site), topic: term("topic", h.topic), nature: term("nature", h.nature), status: t(`status_${h.status}`) }) }))));
  if (!items.length) $("case-history").append(el("li", { class: "muted", text: t("noHistory") }));
}

// the delivery mark of an outbound message: a symbol for the eye, the word for everyone
function tick(m, site) {
  const { el } = deps;
  const label = m.status === "scheduled" ? t("st_scheduled", { time: when(m.scheduled_for, site) })
    : t(`st_${m.status}`);
  const text = m.error ? t("stError", { status: label, error: m.error }) : label;
  return el("span", { class: `tick st-${m.status}`, title: m.status_at ? when(m.status_at, site) : "" },
    el("span", { class: "tick-mark", "aria-hidden": "true", text: TICKS[m.status] || "" }), ` ${text}`);
}

function messageMeta(m, site) {
  const { el } = deps;
  const parts = [el("span", { class: "author", text: m.direction === "in" ? t("customer") : m.author || t("staff") }),
    el("time", { datetime: m.at, text: when(m.at, site) })];
  if (m.direction === "out") {
    parts.push(el("span", { class: "length", text: t("length", { segments: m.segments, encoding: m.encoding }) }),
      tick(m, site));
  }
  return el("p", { class: "msg-meta" }, ...parts);
}

const signature = (m) => [m.status, m.status_at, m.error, m.scheduled_for].join("|");

function renderThread(c) {
  const { el } = deps;
  const list = $("case-thread");
  const messages = c.conversation || [];
  const ids = messages.map((m) => m.id);
  const shown = [...page.nodes.keys()];
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  // the first drawing, or a message that is not new landing in the middle: draw the thread again
  if (!shown.length || shown.some((id, i) => ids[i] !== id)) {
    page.nodes.clear();
    list.replaceChildren();
  }
  for (const m of messages) {
    const old = page.nodes.get(m.id);
    if (old && old.dataset.sig === signature(m)) continue;
    if (old) { // a new delivery status: only its line changes (and only it is read out)
      old.querySelector(".msg-meta").replaceWith(messageMeta(m, c.site));
      Object.assign(old.dataset, { status: m.status || "", sig: signature(m) });
      continue;
    }
    const node = el("li", { class: `msg ${m.direction === "in" ? "in" : "out"}`, "data-id": m.id,
      "data-status": m.status || "", "data-sig": signature(m) },
    el("p", { class: "bubble", text: m.text }), messageMeta(m, c.site));
    list.append(node);
    page.nodes.set(m.id, node);
  }
  list.querySelector(".empty")?.remove();
  if (!messages.length) list.append(el("li", { class: "empty muted", text: t("empty") }));
  if (atEnd || !shown.length) list.scrollTop = list.scrollHeight;
}

function render(c) {
  page.data = c;
  renderHead(c);
  renderThread(c);
  $("case").dataset.loaded = String(Date.now());
}

// -- the reply box ---------------------------------------------------------------------------------
const outgoing = () => plain($("case-text").value); // typographic quotes would cost UCS-2: sent plain

function count() {
  const text = outgoing();
  const m = measure(text);
  const counter = $("case-count");
  counter.textContent = t("counter", { chars: text.length, segments: m.segments, encoding: m.encoding, left: m.left });
  counter.title = m.encoding === "UCS-2" ? t("ucs2Why") : "";
  counter.dataset.segments = String(m.segments);
  counter.dataset.encoding = m.encoding;
  counter.classList.toggle("ucs2", m.encoding === "UCS-2");
}

function useTemplate() {
  const select = $("case-template");
  const chosen = page.templates.find((x) => x.id === select.value);
  select.value = "";
  if (!chosen) return;
  const name = deps.who();
  const area = $("case-text");
  area.value = name ? chosen.text.replaceAll("{name}", name) : chosen.text;
  $("case-error").textContent = !name && chosen.text.includes("{name}") ? t("nameMissingInTemplate") : "";
  count();
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
}

async function send() {
  const area = $("case-text");
  const text = outgoing().trim();
  const by = deps.who();
  $("case-error").textContent = "";
  if (!by) {
    $("case-error").textContent = t("needName");
    $("who").focus();
    return;
  }
  if (!text) {
    $("case-error").textContent = t("needText");
    area.focus();
    return;
  }
  if (page.sending) return; // Ctrl+Enter twice: one reply
  page.sending = true;
  const button = $("case-send");
  button.disabled = true;
  button.textContent = t("sending");
  const id = page.id;
  try {
    const sent = await deps.api(`/api/cases/${encodeURIComponent(id)}/reply`,
      { method: "POST", body: JSON.stringify({ text, by }) });
    if (id !== page.id) return;
    area.value = "";
    count();
    say(sent.status === "scheduled" ? t("scheduled", { time: when(sent.scheduled_for, page.data?.site) })
      : t("queued", { segments: sent.segments, encoding: sent.encoding }));
    await poll();
  } catch (error) {
    if (!deps.signedOut(error)) $("case-error").textContent = error.message;
    else deps.handle(error);
  } finally {
    page.sending = false;
    button.disabled = false;
    button.textContent = t("send");
    if (id === page.id) area.focus();
  }
}

// -- assign, acknowledge, resolve ------------------------------------------------------------------
async function assign() {
  const to = $("case-assignee").value.trim();
  if (!to) { $("case-assignee").focus(); return; }
  const code = page.data?.code || page.id;
  await change(`/api/cases/${encodeURIComponent(page.id)}/assign`, { to, by: deps.who() || "operator" },
    () => { $("case-assignee").value = ""; return t("assigned", { code, to }); });
}

async function act(action) {
  const by = deps.who();
  const code = page.data?.code || page.id;
  await change(`/api/cases/${encodeURIComponent(page.id)}/${action}`, by ? { by } : {}, (done) =>
    (action === "ack" ? t("acknowledged", { code, by: done.acknowledged_by })
      : t("resolved", { code, by: done.resolved_by })));
}

async function change(path, body, said) {
  $("case-error").textContent = "";
  try {
    const done = await deps.api(path, { method: "POST", body: JSON.stringify(body) });
    say(said(done));
    await poll();
  } catch (error) {
    if (deps.signedOut(error)) deps.handle(error); else say(`${error.message}`, true);
  }
}

function say(text, isError = false) {
  $("case-status").textContent = text;
  $("case-status").classList.toggle("error", isError);
}

// -- opening, polling, leaving ---------------------------------------------------------------------
async function poll() {
  if (page.id === null || page.inFlight || document.hidden) return; // a tab in the background waits
  page.inFlight = true;
  const id = page.id;
  try {
    const c = await deps.api(`/api/cases/${encodeURIComponent(id)}`);
    if (id === page.id) render(c);
  } catch (error) {
    if (deps.signedOut(error)) { stop(); deps.handle(error); return; }
    if (id === page.id && /no such case|not found/i.test(error.message)) {
      stop();
      say(t("gone"), true);
    }
  } finally {
    page.inFlight = false;
  }
}

function stop() {
  clearInterval(page.timer);
  page.timer = null;
}

function open(id) {
  const root = $("case");
  if (!root.childElementCount) build(root);
  if (page.id !== id) {
    page.id = id;
    page.data = null;
    page.nodes.clear();
    $("case-thread").replaceChildren(deps.el("li", { class: "muted", text: t("loading") }));
    $("case-title").textContent = t("title", { code: "…" });
    $("case-badges").replaceChildren();
    $("case-facts").replaceChildren();
    $("case-history").replaceChildren();
    $("case-text").value = "";
    $("case-error").textContent = "";
    say("");
    count();
  }
  document.body.classList.add("case-open");
  root.hidden = false;
  $("case-title").focus();
  stop();
  page.timer = setInterval(poll, POLL_MS);
  poll();
}

function close() {
  const id = page.id;
  stop();
  page.id = null;
  $("case").hidden = true;
  document.body.classList.remove("case-open");
  document.title = page.title;
  // back where the user left: the case's line in the list, again once the list is drawn afresh
  const back = () => {
    const link = id && document.querySelector(`#cases a[data-case="${CSS.escape(id)}"]`);
    if (link) link.focus(); else $("main").focus();
  };
  back();
  Promise.resolve(deps.afterClose?.()).then(() => {
    if (page.id === null && [document.body, $("main")].includes(document.activeElement)) back();
  });
}

function leave() {
  history.pushState(null, "", location.pathname + location.search);
  route();
}

export function route() {
  const id = caseFromHash();
  if (id) open(id);
  else if (page.id !== null && !location.hash) close(); // an in-page link (#main) leaves the case open
}

export function stopCase() {
  stop();
  page.id = null;
}

export function initCasePage(dependencies) {
  deps = dependencies;
  page.title = document.title;
  window.addEventListener("hashchange", () => { if (deps.ready()) route(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
}
