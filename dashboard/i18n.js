// The reader's language: the dashboard's texts come from the catalogue the server uses too
// (chalicelib/locales/<lang>.json, copied to locales/ of the dashboard's origin). French for a
// browser that asks for French first, English otherwise; a choice made with the switch is kept.

export const LANGUAGES = ["en", "fr"];
const LANG_KEY = "voix.lang";
let lang = "en";
let catalogue = {};

function browserLanguage() {
  for (const tag of navigator.languages?.length ? navigator.languages : [navigator.language || "en"]) {
    const base = tag.toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export function language() { return lang; }

// the locale numbers and dates are written in: the browser's own when it is of the chosen language
export function locale() {
  const own = (navigator.languages || [navigator.language]).find((tag) => tag?.toLowerCase().startsWith(lang));
  return own || (lang === "fr" ? "fr-FR" : "en-GB");
}

export async function loadLanguage() {
  const kept = localStorage.getItem(LANG_KEY);
  lang = LANGUAGES.includes(kept) ? kept : browserLanguage();
  const response = await fetch(`locales/${lang}.json`);
  catalogue = response.ok ? await response.json() : {};
  document.documentElement.lang = lang;
  document.documentElement.dataset.catalogue = lang; // the texts are known from now on
  return lang;
}

export function setLanguage(next) {
  localStorage.setItem(LANG_KEY, next);
  location.reload();
}

function lookup(path) {
  let node = catalogue;
  for (const part of path.split(".")) node = node?.[part];
  return typeof node === "string" ? node : null;
}

const fill = (text, params) => text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));

// a dashboard text: t("kpi.messages"), t("cases.open_for", { age })
export function t(key, params = {}) {
  const text = lookup(`dashboard.${key}`);
  return text == null ? key : fill(text, params);
}

// a text that depends on a count: the catalogue has key.one and key.other
export function tn(key, n, params = {}) {
  const form = new Intl.PluralRules(locale()).select(n) === "one" ? "one" : "other";
  return t(`${key}.${form}`, { n: number(n), ...params });
}

// a name of the shared catalogue (topic, nature, urgency, status, channel), else the name itself
export function term(kind, name) {
  return lookup(`${kind}.${name}`) ?? name;
}

export const number = (n, options) => (n == null ? "–" : new Intl.NumberFormat(locale(), options).format(n));

// the static page: data-i18n (text), data-i18n-placeholder, -aria-label, -title
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const attr of ["placeholder", "aria-label", "title"]) {
    for (const node of root.querySelectorAll(`[data-i18n-${attr}]`)) node.setAttribute(attr, t(node.dataset[`i18n${attr.split("-").map((w) => w[0].toUpperCase() + w.slice(1)).join("")}`]));
  }
  document.title = t("title");
}

// the language switch: a select in the header
export function initSwitch(select) {
  select.replaceChildren(...LANGUAGES.map((l) => Object.assign(document.createElement("option"),
    { value: l, textContent: lookup(`language.${l}`) || l, selected: l === lang })));
  select.addEventListener("change", () => setLanguage(select.value));
}
