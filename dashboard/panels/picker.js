// The site picker: a combobox searching names and codes (ARIA list autocomplete).
import { $, el, setFilters, siteName, state } from "../core.js";
import { number, t } from "../i18n.js";

const PICKER_MAX = 50; // options listed at once; typing more narrows the rest
export const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

// sites matching the typed text: a code first, then names that start with it, then names holding it
function searchSites(text) {
  const q = fold(text.trim());
  if (!q) return (state.siteIndex || []).map((e) => e.site);
  const words = q.split(/\s+/);
  const ranked = [];
  for (const e of state.siteIndex || []) {
    let rank;
    if (e.codes.includes(q) || e.name === q) rank = 0;
    else if (e.name.startsWith(q)) rank = 1;
    else if (e.codes.some((c) => c.startsWith(q))) rank = 2;
    else if (words.every((w) => e.name.includes(w))) rank = 3;
    else continue;
    ranked.push([rank, e.site]);
  }
  return ranked.sort((a, b) => a[0] - b[0]).map(([, site]) => site);
}

const picker = { options: [], active: -1 };

function renderPicker() {
  const input = $("f-site");
  const typed = input.value.trim();
  const browsing = !typed || (input.dataset.value && typed === siteName(input.dataset.value)); // nothing typed yet
  const found = searchSites(browsing ? "" : typed);
  const shown = found.slice(0, PICKER_MAX);
  picker.options = [...(browsing ? [{ id: "", name: t("filters.all_sites"), codes: [] }] : []), ...shown];
  picker.active = Math.min(Math.max(picker.active, 0), picker.options.length - 1);
  $("f-site-list").replaceChildren(...picker.options.map((s, i) => el("li", {
    id: `f-site-opt-${i}`, role: "option", class: "picker-option", "data-site": s.id,
    "aria-selected": String(i === picker.active),
    onmousedown: (e) => e.preventDefault(), // the input keeps the focus
    onclick: () => choose(s.id) },
  el("span", { text: s.name }), el("span", { class: "muted", text: (s.codes || []).join(" ") }))));
  const more = found.length - shown.length;
  $("f-site-more").textContent = !found.length ? t("picker.none")
    : more > 0 ? t("picker.more", { n: number(found.length) }) : "";
  if (picker.active >= 0) input.setAttribute("aria-activedescendant", `f-site-opt-${picker.active}`);
  else input.removeAttribute("aria-activedescendant");
  $(`f-site-opt-${picker.active}`)?.scrollIntoView({ block: "nearest" });
}

export function openPicker() {
  const input = $("f-site");
  if (document.activeElement !== input) input.focus();
  $("f-site-drop").hidden = false;
  input.setAttribute("aria-expanded", "true");
  renderPicker();
}

function closePicker(restore = true) {
  const input = $("f-site");
  $("f-site-drop").hidden = true;
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
  picker.active = -1;
  if (restore) input.value = input.dataset.value ? siteName(input.dataset.value) : "";
}

function choose(id) {
  const input = $("f-site");
  closePicker(false);
  input.value = id ? siteName(id) : "";
  if (id !== (input.dataset.value || "")) setFilters({ site: id });
}

export function initPicker() {
  const input = $("f-site");
  input.addEventListener("input", () => { picker.active = 0; openPicker(); });
  input.addEventListener("mousedown", () => { if ($("f-site-drop").hidden) setTimeout(openPicker); });
  input.addEventListener("blur", () => closePicker());
  input.addEventListener("keydown", (event) => {
    const open = !$("f-site-drop").hidden;
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[event.key];
    if (step) {
      event.preventDefault();
      if (!open) { picker.active = 0; openPicker(); return; }
      picker.active = Math.min(Math.max(picker.active + step, 0), picker.options.length - 1);
      renderPicker();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (open && picker.options[picker.active]) choose(picker.options[picker.active].id);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      closePicker();
    }
  });
}
