// Settings, replies: each automatic reply's text per language, with a live one-SMS check per language. A reply
// is sent as one SMS only if it fits 160 GSM-7 characters (70 in UCS-2, when one character is outside the GSM
// alphabet); its placeholders are counted filled with a sample value (shown on the page), and typographic
// quotes are counted as sent (plain). A reply too long is an error next to its field and Publish waits.

import { t as tr, term, tn } from "./i18n.js";
import { measure, plain } from "./sms.js";

const t = (key, vars) => tr(`admin.${key}`, vars);

// what each placeholder is counted as: long values of the demo's sites, per language
export const SAMPLES = {
  en: { site: "Leeds Briggate store", staff: "store manager", team: "store team", minutes: "10", hours: "2",
    offer_code: "VABCDEF", emergency: "999", example_code: "LEEDS", delay: "10 minutes" },
  fr: { site: "magasin de Leeds", staff: "responsable du magasin", team: "equipe du magasin", minutes: "10", hours: "2",
    offer_code: "VABCDEF", emergency: "112", example_code: "LEEDS", delay: "10 minutes" },
};
const LANGUAGES = { en: () => t("english"), fr: () => t("french") };

let ctx;
const fields = []; // [{ node, note, language }]

// the text as the customer receives it, or { unknown } for a placeholder Voix cannot fill
export function filled(text, language) {
  const values = SAMPLES[language] || SAMPLES.en;
  const unknown = [];
  const out = text.replace(/\{(\w*)\}/g, (m, key) => {
    if (key in values) return values[key];
    unknown.push(m);
    return m;
  });
  return { text: plain(out), unknown };
}

function checkOne(entry) {
  const { node, note, language } = entry;
  const { text, unknown } = filled(node.value, language);
  const m = measure(text);
  const limit = m.encoding === "GSM-7" ? 160 : 70;
  let message = t(m.encoding === "UCS-2" ? "count_ucs2" : "count", { units: m.units, limit, encoding: m.encoding });
  entry.problem = "";
  if (!node.value.trim()) entry.problem = t("reply_empty");
  else if (unknown.length) entry.problem = t("unknown_placeholder", { names: unknown.join(" ") });
  else if (m.segments > 1) {
    entry.problem = t(m.encoding === "UCS-2" ? "too_long_ucs2" : "too_long",
      { units: m.units, encoding: m.encoding, limit, over: m.units - limit });
  }
  if (entry.problem) message = entry.problem;
  note.textContent = message;
  note.classList.toggle("error", Boolean(entry.problem));
  note.dataset.segments = String(m.segments);
  if (entry.problem) node.setAttribute("aria-invalid", "true"); else node.removeAttribute("aria-invalid");
}

function textField(rule, i, key, language) {
  const { el } = ctx;
  const id = `reply-${i}-${key}-${language}`;
  const node = el("textarea", { id, rows: "3", maxlength: "1000", "data-path": `replies[${i}].${key}.${language}`,
    "data-language": language, "aria-describedby": `${id}-count` });
  node.value = rule[key][language] || "";
  const note = el("p", { id: `${id}-count`, class: "counter", "aria-live": "polite" });
  const entry = { node, note, language };
  fields.push(entry);
  node.addEventListener("input", () => {
    rule[key] = { ...rule[key], [language]: node.value };
    checkOne(entry);
    ctx.changed();
  });
  checkOne(entry);
  const name = LANGUAGES[language]?.() || language;
  const label = key === "text" ? name : t("no_offer", { language: name });
  return el("div", { class: "field" }, el("label", { for: id, text: label }), node, note);
}

// a rule's conditions in the reader's words: "urgency reason: safety, site known: yes"
const TERMS = { nature: "nature", topic: "topic", urgency: "urgency", urgency_reason: "reason" };
const condition = (k, v) => {
  if (Array.isArray(v)) return v.map((x) => (TERMS[k] ? term(TERMS[k], x) : x)).join(t("or"));
  return typeof v === "boolean" ? t(v ? "yes" : "no") : v;
};
const conditions = (when) => Object.entries(when || {}).map(([k, v]) => {
  const name = t(`cond_${k}`);
  return `${name === `admin.cond_${k}` ? k.replaceAll("_", " ") : name}: ${condition(k, v)}`;
}).join(", ") || t("any_message");

export const repliesPage = {
  render(root, data, context) {
    ctx = context;
    fields.length = 0;
    const { el } = ctx;
    const samples = Object.entries(SAMPLES.en).map(([k, v]) => `{${k}} = “${v}”`).join(", ");
    root.append(
      el("p", { class: "muted", id: "replies-help",
        text: t("replies_help", { samples, staff_fr: `{staff} = “${SAMPLES.fr.staff}”` }) }),
      el("div", { id: "admin-replies", class: "admin-list" }, ...(data.replies || []).map((rule, i) =>
        el("fieldset", { class: "card admin-item", "data-reply": rule.name },
          el("legend", { text: rule.name }),
          el("p", { class: "muted meta", text: t("when_is", { conditions: conditions(rule.when) }) }),
          ...Object.keys(rule.text || {}).map((language) => textField(rule, i, "text", language)),
          ...Object.keys(rule.no_offer || {}).map((language) => textField(rule, i, "no_offer", language))))));
  },
  blocked() {
    const bad = fields.filter((f) => f.problem).length;
    return bad ? tn("admin.replies_bad", bad) : "";
  },
};
