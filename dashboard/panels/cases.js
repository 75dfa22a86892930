// The open cases: most urgent first, then the soonest due; acknowledge or resolve from the list.
import { $, NAME_KEY, api, badge, duration, el, hooks, natureName, siteName, topicName } from "../core.js";
import { t } from "../i18n.js";

const delivery = (status) => (t(`delivery.${status}`) === `delivery.${status}` ? status : t(`delivery.${status}`));

function promise(c) {
  const left = (Date.parse(c.promised_at) - Date.now()) / 1000;
  const level = c.escalation_level ? t("cases.escalated", { n: c.escalation_level }) : "";
  return el("span", { class: left < 0 ? "due overdue" : "due",
    text: left < 0 ? t("cases.overdue_by", { time: duration(-left), level })
      : t("cases.due_in", { time: duration(left), level }) });
}

// "Only mine": the open cases assigned to the name typed in "Your name" (none typed: every case)
export const mine = () => ($("mine").checked ? $("who").value.trim() : "");

export function renderCases(cases) {
  // in the API's order: most urgent first, then the soonest due (overdue ones first), then the oldest
  const list = $("cases");
  list.replaceChildren(...cases.map((c) => el("li", {
    class: `case${c.urgency === "high" ? " urgent" : ""}${c.overdue ? " overdue" : ""}`, "data-id": c.id },
    el("div", { class: "meta" },
      badge("site", siteName(c.site)), badge("topic", c.topic, topicName(c.topic)),
      badge("nature", c.nature, natureName(c.nature)),
      ...(c.urgency === "high" ? [badge("urgency", "urgent", t("badge.urgent"))] : []),
      ...(c.overdue ? [badge("state", "overdue", t("badge.overdue"))] : []),
      el("span", { class: "who", text: c.customer || "" }),
      el("span", { class: "age", text: t("cases.open_for", { time: duration((Date.now() - Date.parse(c.created_at)) / 1000) }) }),
      ...(c.promised_at ? [promise(c)] : []),
      ...(c.code ? [el("span", { class: "code", text: t("cases.code", { code: c.code }) })] : []),
      ...(c.assignee ? [el("span", { class: "assignee", text: t("cases.assigned_to", { name: c.assignee }) })] : [])),
    el("p", { class: "text", text: c.text }),
    el("p", { class: "alerted", text: t("cases.alerted", { who: c.alerts.map((a) => `${a.to} (${delivery(a.status)})`)
      .join(", ") || t("cases.nobody") }) }),
    el("div", { class: "actions" },
      el("a", { class: "open-case", href: `#case=${encodeURIComponent(c.id)}`, "data-case": c.id,
        "aria-label": t("cases.open_label", { id: c.code || c.id }), text: t("cases.open") }),
      el("button", { type: "button", onclick: () => act(c.id, "ack"), "aria-label": t("cases.ack_label", { id: c.id }), text: t("cases.ack") }),
      el("button", { type: "button", class: "secondary", onclick: () => act(c.id, "resolve"),
        "aria-label": t("cases.resolve_label", { id: c.id }), text: t("cases.resolve") })))));
  if (!cases.length) list.append(el("li", { class: "muted", text: mine() ? t("cases.none_mine", { name: mine() }) : t("cases.none") }));
}

async function act(id, action) {
  const name = $("who").value.trim();
  localStorage.setItem(NAME_KEY, name);
  try {
    const done = await api(`/api/cases/${encodeURIComponent(id)}/${action}`,
      { method: "POST", body: JSON.stringify(name ? { by: name } : {}) });
    await hooks.load();
    hooks.status(action === "ack" ? t("cases.acknowledged", { id, by: done.acknowledged_by })
      : t("cases.resolved", { id, by: done.resolved_by }));
  } catch (error) { hooks.handle(error); }
}
