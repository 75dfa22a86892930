// The latest messages, live: a poll every second adds the new ones on top.
import { $, api, badge, channelName, el, filters, maskedTime, natureName, period, query, siteName, state,
  topicName } from "../core.js";
import { t } from "../i18n.js";
import { decorate } from "../corrections.js";

export const FEED_SIZE = 60; // messages kept on screen

// why a mail was withheld (chalicelib/channels/email.py): suspect:<verdict> or automatic:<why>
function withheldName(withheld) {
  const [kind, why = ""] = withheld.split(":");
  return kind === "suspect" ? t("feed.suspect", { why: why.toUpperCase() })
    : t("feed.automatic", { why: why.replace(/-/g, " ") });
}

export function feedItem(m) {
  const site = filters().site; // one zone down the list: the view's (the site's, else the network's)
  return decorate(el("li", { class: `item${m.urgency === "high" ? " urgent" : ""}`, "data-id": m.id },
    el("div", { class: "meta" },
      badge("site", siteName(m.site)), badge("topic", m.topic, topicName(m.topic)),
      badge("nature", m.nature, natureName(m.nature)),
      ...(m.urgency === "high" ? [badge("urgency", "urgent", t("badge.urgent"))] : []),
      el("span", { class: "badge channel", text: channelName(m.channel) }),
      ...(m.withheld ? [el("span", { class: "badge withheld", text: withheldName(m.withheld),
        title: t("feed.withheld_title") })] : []),
      el("span", { class: "who", text: m.from || "" }),
      el("time", { datetime: m.received_at, text: maskedTime(m.received_at, site) })),
    el("p", { class: "text", text: m.text })), m); // + its "Correct" control (corrections.js)
}

export function renderFeed(items, replace) {
  const list = $("feed");
  const fresh = items.filter((m) => !state.seen.has(m.id));
  for (const m of fresh) state.seen.add(m.id);
  const nodes = fresh.map(feedItem);
  if (replace) list.replaceChildren(...nodes); else list.prepend(...nodes);
  while (list.children.length > FEED_SIZE) list.lastChild.remove();
  if (items.length && (!state.newest || items[0].received_at > state.newest)) state.newest = items[0].received_at;
}

export async function poll() {
  const f = filters();
  const seq = state.seq;
  const since = state.newest || period(f).since.toISOString();
  // as many as the feed shows: a burst of more than a page between two polls is not skipped
  const data = await api(`/api/feedback?${query({ site: f.site, topic: f.topic, nature: f.nature, channel: f.channel, since, limit: FEED_SIZE })}`);
  if (seq !== state.seq) return; // asked for an older view
  renderFeed(data.items, false);
}
