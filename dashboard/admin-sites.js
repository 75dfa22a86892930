// Settings, sites and staff: every site (a store or a coach line) with its numbers, codes, staff SMS numbers
// and manager e-mails; add a store; a roster uploaded as CSV (name,days,start,end), read in the browser into
// the site's roster, what was read shown, and the errors by line. The data is sites.toml's structure.

import { t as tr, tn } from "./i18n.js";

const t = (key, vars) => tr(`admin.${key}`, vars);

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = { monday: "mon", tuesday: "tue", wednesday: "wed", thursday: "thu", friday: "fri", saturday: "sat",
  sunday: "sun", tues: "tue", thur: "thu", thurs: "thu" };

// one CSV line into its cells ("a, b" or "\"Smith, Dave\",mon,6,14")
function cells(line) {
  const out = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { out.push(cell.trim()); cell = ""; } else cell += c;
  }
  out.push(cell.trim());
  return out;
}

const hour = (text, low, high) => (/^\d{1,2}$/.test(text) && Number(text) >= low && Number(text) <= high ? Number(text) : null);

// CSV text → { shifts, errors: [{ line, message }] }; a header line (name,days,start,end) is skipped
export function parseRoster(text) {
  const shifts = [];
  const errors = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (!raw.trim()) return;
    const row = cells(raw);
    if (index === 0 && row[0].toLowerCase() === "name" && (row[1] || "").toLowerCase() === "days") return;
    if (row.length !== 4) {
      errors.push({ line, message: `expected 4 columns (name, days, start, end), found ${row.length}` });
      return;
    }
    const [name, daysText, startText, endText] = row;
    const problems = [];
    if (!name) problems.push("the name is empty");
    if (name.length > 80) problems.push("the name is longer than 80 characters");
    const days = [];
    for (const word of daysText.toLowerCase().split(/[\s;/]+/).filter(Boolean)) {
      const day = DAYS.includes(word.slice(0, 3)) && (word.length === 3 || DAY_NAMES[word]) ? word.slice(0, 3) : null;
      if (!day) problems.push(`“${word}” is not a day (write mon tue wed thu fri sat sun)`);
      else if (!days.includes(day)) days.push(day);
    }
    if (!daysText.trim()) problems.push("no day given");
    const start = hour(startText, 0, 23);
    const end = hour(endText, 1, 24);
    if (start === null) problems.push(`the start “${startText}” is not an hour from 0 to 23`);
    if (end === null) problems.push(`the end “${endText}” is not an hour from 1 to 24`);
    if (start !== null && start === end) problems.push("the shift starts and ends at the same hour");
    if (problems.length) errors.push({ line, message: problems.join("; ") });
    else shifts.push({ name, days: DAYS.filter((d) => days.includes(d)), start, end });
  });
  if (!shifts.length && !errors.length) errors.push({ line: 1, message: "the file has no shift" });
  return { shifts, errors };
}

const split = (text) => text.split(/[\s,;]+/).filter(Boolean);
const timeZones = () => (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []);

let ctx;
let data;
let list;

function field(id, label, control, help) {
  const { el } = ctx;
  control.id = id;
  if (help) control.setAttribute("aria-describedby", `${id}-help`);
  return el("div", { class: "field" }, el("label", { for: id, text: label }), control,
    ...(help ? [el("p", { class: "muted help", id: `${id}-help`, text: help })] : []));
}

function input(site, i, key, { sub, list: isList, type = "text", readonly = false } = {}) {
  const node = ctx.el("input", { type, autocomplete: "off", spellcheck: "false",
    "data-path": `sites[${i}].${key}${sub ? `.${sub}` : ""}` });
  const value = sub ? site[key]?.[sub] : site[key];
  node.value = isList ? (value || []).join(", ") : value ?? "";
  if (readonly) node.readOnly = true;
  node.addEventListener("input", () => {
    const v = isList ? split(node.value) : node.value.trim();
    if (sub) site[key] = { ...(site[key] || {}), [sub]: v }; else site[key] = v;
    if (key === "name" || key === "id") {
      node.closest("details").querySelector("summary .site-name").textContent = site.name || site.id || "New store";
    }
    ctx.changed();
  });
  return node;
}

function select(site, i, key, options) {
  const { el } = ctx;
  const node = el("select", { "data-path": `sites[${i}].${key}` },
    ...options.map(([value, text]) => el("option", { value, text })));
  node.value = site[key] ?? "";
  node.addEventListener("change", () => { site[key] = node.value; ctx.changed(); });
  return node;
}

// one input per staff number, so that sites[i].staff_sms[j] has its own field and its own error
function staffNumbers(site, i) {
  const { el } = ctx;
  const box = el("fieldset", { class: "numbers", "data-path": `sites[${i}].staff_sms` },
    el("legend", { text: t("staff_numbers") }));
  const draw = () => {
    box.querySelectorAll(".field").forEach((n) => n.remove());
    box.querySelector(".add")?.remove();
    (site.staff_sms ||= []).forEach((number, j) => {
      const id = `site-${i}-staff-${j}`;
      const node = el("input", { id, type: "tel", autocomplete: "off", "data-path": `sites[${i}].staff_sms[${j}]`,
        "aria-describedby": `site-${i}-staff-help` });
      node.value = number;
      node.addEventListener("input", () => { site.staff_sms[j] = node.value.trim(); ctx.changed(); });
      const remove = el("button", { type: "button", class: "secondary small", "aria-label": t("remove_staff", { n: j + 1 }),
        text: t("remove") });
      remove.addEventListener("click", () => { site.staff_sms.splice(j, 1); draw(); ctx.changed(); box.querySelector("input, .add")?.focus(); });
      box.append(el("div", { class: "field row" }, el("label", { for: id, text: t("staff_number", { n: j + 1 }) }), node, remove));
    });
    const add = el("button", { type: "button", class: "secondary small add", text: t("add_staff") });
    add.addEventListener("click", () => {
      site.staff_sms.push("");
      draw();
      ctx.changed();
      box.querySelectorAll("input")[site.staff_sms.length - 1].focus();
    });
    box.append(add);
  };
  box.append(el("p", { class: "muted help", id: `site-${i}-staff-help`, text: t("international") }));
  draw();
  return box;
}

function rosterTable(shifts) {
  const { el } = ctx;
  if (!shifts.length) return el("p", { class: "muted", text: t("no_roster") });
  return el("div", { class: "table-wrap", tabindex: "0" }, el("table", { class: "roster" },
    el("thead", {}, el("tr", {}, ...["name", "days", "from", "to"].map((h) => el("th", { scope: "col", text: t(`roster_${h}`) })))),
    el("tbody", {}, ...shifts.map((s) => el("tr", {}, el("td", { text: s.name }), el("td", { text: s.days.join(" ") }),
      el("td", { text: `${s.start}:00` }), el("td", { text: `${s.end}:00` }))))));
}

function roster(site, i) {
  const { el } = ctx;
  const id = `site-${i}-roster`;
  const shown = el("div", { id: `${id}-shown`, "data-path": `sites[${i}].roster` }, rosterTable(site.roster || []));
  const report = el("div", { id: `${id}-report`, class: "roster-report", "aria-live": "polite" });
  const file = el("input", { id, type: "file", accept: ".csv,text/csv,text/plain", "aria-describedby": `${id}-help` });
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    const { shifts, errors } = parseRoster(await chosen.text());
    if (errors.length) {
      report.replaceChildren(el("p", { class: "error", text: t("roster_bad", { file: chosen.name, lines: tn("admin.lines", errors.length) }) }),
        el("ul", { class: "error roster-errors" }, ...errors.map((e) => el("li", { text: t("line", { n: e.line, message: e.message }) }))));
    } else {
      site.roster = shifts;
      shown.replaceChildren(rosterTable(shifts));
      report.replaceChildren(el("p", { class: "ok", text: t("roster_read", { shifts: tn("admin.shifts", shifts.length), file: chosen.name }) }));
      ctx.changed();
    }
    file.value = "";
  });
  return el("fieldset", { class: "roster-box" }, el("legend", { text: t("roster") }),
    shown,
    el("div", { class: "field" }, el("label", { for: id, text: t("roster_file") }), file,
      el("p", { class: "muted help", id: `${id}-help`,
        text: t("roster_help") })),
    report);
}

function timeZone(site, i) {
  const node = input(site, i, "timezone");
  node.setAttribute("list", "admin-timezones");
  return node;
}

function siteForm(site, i) {
  const { el } = ctx;
  const kinds = Object.keys(data.kinds || {});
  const p = `site-${i}`;
  return [
    field(`${p}-id`, t("identifier"), input(site, i, "id", { readonly: Boolean(site.$saved) }),
      site.$saved ? t("id_fixed") : t("id_help")),
    field(`${p}-name`, t("name"), input(site, i, "name")),
    field(`${p}-short-en`, t("short_en"), input(site, i, "short_name", { sub: "en" })),
    field(`${p}-short-fr`, t("short_fr"), input(site, i, "short_name", { sub: "fr" })),
    field(`${p}-kind`, t("kind"), select(site, i, "kind", kinds.map((k) => [k, k]))),
    field(`${p}-language`, t("reply_language"), select(site, i, "language", [["en", t("english")], ["fr", t("french")]])),
    field(`${p}-timezone`, t("timezone"), timeZone(site, i), t("timezone_help")),
    field(`${p}-numbers`, t("numbers"), input(site, i, "numbers", { list: true }), t("commas")),
    field(`${p}-codes`, t("codes"), input(site, i, "codes", { list: true }), t("codes_help")),
    staffNumbers(site, i),
    field(`${p}-email`, t("emails"), input(site, i, "manager_email", { list: true }), t("commas")),
    roster(site, i),
  ];
}

function siteBlock(site, i) {
  const { el } = ctx;
  const details = el("details", { class: "card admin-item", "data-site": site.id || "", "data-index": String(i) },
    el("summary", {}, el("span", { class: "site-name", text: site.name || site.id || t("new_store") }),
      el("span", { class: "muted", text: ` ${site.id ? `(${site.id})` : ""} · ${site.kind || ""}` })));
  const fill = () => { if (details.childElementCount === 1) details.append(...siteForm(site, i)); };
  details.addEventListener("toggle", () => { if (details.open) fill(); });
  details.fill = fill;
  return details;
}

export const sitesPage = {
  render(root, section, context) {
    ctx = context;
    data = section;
    const { el } = ctx;
    for (const site of data.sites || []) Object.defineProperty(site, "$saved", { value: true, enumerable: false });
    list = el("div", { id: "admin-sites", class: "admin-list" }, ...(data.sites || []).map(siteBlock));
    const add = el("button", { id: "admin-add-site", type: "button", class: "secondary", text: t("add_store") });
    add.addEventListener("click", () => {
      const kind = data.kinds?.store ? "store" : Object.keys(data.kinds || {})[0] || "";
      const site = { id: "", name: "", short_name: { en: "", fr: "" }, kind,
        language: data.deployment?.default_language || "en", timezone: "Europe/London", numbers: [], codes: [],
        staff_sms: [], manager_email: [] };
      data.sites.push(site);
      const block = siteBlock(site, data.sites.length - 1);
      list.append(block);
      block.open = true;
      block.fill();
      block.querySelector("input").focus();
      ctx.changed();
    });
    const find = el("input", { id: "admin-find-site", type: "search", autocomplete: "off", spellcheck: "false",
      "aria-describedby": "admin-find-help" });
    const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
    find.addEventListener("input", () => {
      const wanted = fold(find.value.trim());
      for (const block of list.children) {
        const site = data.sites[Number(block.dataset.index)];
        const words = fold([site.id, site.name, ...(site.codes || [])].join(" "));
        block.hidden = Boolean(wanted) && !words.includes(wanted) && !block.open;
      }
    });
    root.append(el("div", { class: "field" }, el("label", { for: find.id, text: t("find_site") }), find,
      el("p", { class: "muted help", id: "admin-find-help",
        text: t("find_help", { n: (data.sites || []).length }) })),
      el("datalist", { id: "admin-timezones" }, ...timeZones().map((z) => el("option", { value: z }))), list, add);
  },
  // an error on sites[i]: open that site's block so that its field can be shown
  reveal(path) {
    const match = /^sites\[(\d+)\]/.exec(path);
    const block = match && list?.querySelector(`details[data-index="${match[1]}"]`);
    if (block) { block.open = true; block.fill(); }
  },
  blocked: () => "",
};
