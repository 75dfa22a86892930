// Settings, rules: the rules studio (issue 22). The lexicon groups with their phrases, edited as a draft kept in
// this page until it is published (admin.js publishes the whole rules section); "Explain" classifies a text with
// the draft as it is typed (POST /api/config/rules/explain); "Backtest the draft" runs it over the stored
// messages of the last 30 days (POST /api/config/rules/preview); suggestions are phrases frequent in the messages
// managers corrected that no rule knows (GET /api/config/rules/suggestions), each added to the draft in one click.

import { t as tr, term, tn } from "./i18n.js";

const t = (key, vars) => tr(`admin.${key}`, vars);

const KINDS = { topic: () => t("kind_topic"), nature: () => t("kind_nature"), urgency: () => t("kind_urgency"),
  language: () => t("kind_language") };
const DEBOUNCE_MS = 300;

let ctx; // from admin.js: el, changed, mark, api, failed, describe
let data; // the draft: the rules section as read, edited in place (admin.js publishes it)
let original; // the section as read, to say what the draft changes
let timer = null;
let explainSeq = 0;
let backtested = false;
const $ = (id) => document.getElementById(id);

const norm = (text) => text.trim().replace(/\s+/g, " ").toLowerCase();
const quote = (text) => `“${text}”`;
const pct = (share) => `${Math.round(share * 100)}%`;
const count = (key, n) => tn(`admin.${key}`, n);

// what a group adds when one of its phrases is found
export function effect(group) {
  const parts = [];
  if (group.topic) {
    parts.push(t(group.weight && group.weight !== 1 ? "fx_topic_weight" : "fx_topic",
      { topic: term("topic", group.topic), weight: group.weight }));
  }
  if (group.sentiment === 1) parts.push(t("fx_praise"));
  if (group.sentiment === -1) parts.push(t("fx_problem"));
  if (group.urgency) parts.push(t(group.negated_only ? "fx_urgency_negated" : "fx_urgency", { urgency: term("urgency", group.urgency) }));
  if (group.cue) parts.push(t("fx_cue", { cue: group.cue.replaceAll("_", " ") }));
  if (group.language) parts.push(t("fx_words", { language: group.language }));
  return parts.join(", ") || t("fx_none");
}

// the draft against the section as read: [{ group, phrase, added }]
export function draftChanges(before, after) {
  const out = [];
  const was = new Map((before.lexicon || []).map((g) => [g.name, g.phrases || []]));
  for (const group of after.lexicon || []) {
    const old = was.get(group.name) || [];
    for (const phrase of group.phrases) if (!old.includes(phrase)) out.push({ group: group.name, phrase, added: true });
    for (const phrase of old) if (!group.phrases.includes(phrase)) out.push({ group: group.name, phrase, added: false });
  }
  return out;
}

function problemText(error) {
  if (error.status === 400 && /^invalid configuration/.test(error.message)) {
    return t("draft_invalid", { problems: ctx.describe(error.message).join("; ") });
  }
  return error.message;
}

function failedHere(error, node) {
  if (error.status === 400) node.replaceChildren(ctx.el("p", { class: "error", text: problemText(error) }));
  else ctx.failed(error);
}

// -- the draft ----------------------------------------------------------------------------------------
function drafted() {
  const changes = draftChanges(original, data);
  const { el } = ctx;
  $("rules-draft").replaceChildren(changes.length
    ? el("p", {}, t("draft", { changes: count("draft_changes", changes.length) }),
      ...changes.flatMap((c, i) => [i ? ", " : "", el("span", { class: c.added ? "added" : "removed",
        text: `${c.added ? "+" : "−"} ${quote(c.phrase)} (${c.group})` })]))
    : el("p", { class: "muted", text: t("draft_none") }));
  if (backtested) $("rules-stale").hidden = false;
  drawSuggestions();
  explainSoon();
  ctx.changed();
}

function addPhrase(i, text) {
  const group = data.lexicon[i];
  const phrase = norm(text);
  if (!phrase) return t("phrase_first");
  if (group.phrases.some((p) => p.toLowerCase() === phrase)) return t("phrase_there", { phrase: quote(phrase), group: group.name });
  group.phrases.push(phrase);
  drawPhrases(i);
  drafted();
  return "";
}

function removePhrase(i, j) {
  data.lexicon[i].phrases.splice(j, 1);
  drawPhrases(i);
  const buttons = $(`rg-${i}-phrases`).querySelectorAll("button");
  (buttons[Math.min(j, buttons.length - 1)] || $(`rg-${i}-add`)).focus();
  drafted();
}

function drawPhrases(i) {
  const { el } = ctx;
  const group = data.lexicon[i];
  $(`rg-${i}-phrases`).replaceChildren(...group.phrases.map((phrase, j) => {
    const remove = el("button", { type: "button", class: "secondary small", "aria-label": t("phrase_remove", { phrase: quote(phrase), group: group.name }),
      text: "×" });
    remove.addEventListener("click", () => removePhrase(i, j));
    return el("li", { "data-phrase": phrase, "data-path": `lexicon[${i}].phrases[${j}]` }, el("span", { text: phrase }), remove);
  }));
  $(`rg-${i}-count`).textContent = count("phrases", group.phrases.length);
}

function groupItem(group, i) {
  const { el } = ctx;
  const id = `rg-${i}`;
  const input = el("input", { id: `${id}-add`, type: "text", maxlength: "80", autocomplete: "off", spellcheck: "false",
    "data-path": `lexicon[${i}].phrases`, "aria-describedby": `${id}-note` });
  const note = el("p", { id: `${id}-note`, class: "muted help", "aria-live": "polite" });
  const add = el("button", { type: "button", class: "secondary small", text: t("add") });
  const submit = () => {
    const problem = addPhrase(i, input.value);
    note.textContent = problem || t("phrase_added", { phrase: quote(norm(input.value)) });
    note.classList.toggle("error", Boolean(problem));
    if (!problem) input.value = "";
    input.focus();
  };
  add.addEventListener("click", submit);
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); submit(); } });
  return el("details", { class: "card admin-item rule-group", "data-group": group.name, "data-path": `lexicon[${i}]` },
    el("summary", {}, el("span", { class: "group-name", text: group.name }), " ", el("span", { class: "muted", text: `(${effect(group)}) · ` }),
      el("span", { class: "muted", id: `${id}-count` })),
    el("ul", { class: "phrases", id: `${id}-phrases`, "aria-label": t("phrases_of", { group: group.name }) }),
    el("div", { class: "field row" }, el("label", { for: input.id, text: t("phrase_add", { group: group.name }) }), input, add),
    note);
}

function findGroups(text) {
  const q = norm(text);
  for (const node of $("rules-groups").children) {
    const group = data.lexicon[Number(node.dataset.path.slice(8, -1))];
    node.hidden = Boolean(q) && !group.name.toLowerCase().includes(q) && !group.phrases.some((p) => p.includes(q));
  }
}

// -- explain ------------------------------------------------------------------------------------------
function explainSoon() {
  clearTimeout(timer);
  timer = setTimeout(explain, DEBOUNCE_MS);
}

async function explain() {
  const text = $("explain-text")?.value || "";
  const out = $("explain-result");
  if (!out) return;
  const seq = ++explainSeq;
  if (!text.trim()) { out.replaceChildren(); delete out.dataset.seq; return; }
  const to = $("explain-to").value;
  try {
    const answer = await ctx.api("/api/config/rules/explain", { method: "POST",
      body: JSON.stringify({ text, data, ...(to ? { to } : {}) }) });
    if (seq !== explainSeq) return;
    const { el } = ctx;
    const fired = answer.fired.map((f) => el("li", {}, el("strong", { text: f.group }), `: ${quote(f.phrase)}${
      f.negated ? " (negated)" : ""} → ${Object.entries(f.effect).map(([k, v]) => `${k} ${v}`).join(", ")}`));
    out.replaceChildren(
      el("p", { class: "explained" }, ...[["topic", term("topic", answer.topic)], ["nature", term("nature", answer.nature)],
        ["urgency", `${term("urgency", answer.urgency)}${answer.urgency_reason ? ` (${term("reason", answer.urgency_reason)})` : ""}`],
        ["language", answer.language], ["site", answer.site || t("unknown")]].map(([k, v]) =>
        el("span", { "data-label": k }, t("is", { what: t(`kind_${k}`) }), el("strong", { text: v })))),
      el("h4", { text: t("fired") }),
      fired.length ? el("ul", { class: "fired" }, ...fired) : el("p", { class: "muted", text: t("fired_none") }),
      el("details", {}, el("summary", { text: t("decisions") }),
        el("ol", { class: "decisions" }, ...answer.rules.map((r) => el("li", { text: r }))),
        el("p", { class: "muted help", text: t("words", { words: answer.words.join(" ") }) })));
    out.dataset.seq = String(seq);
  } catch (error) {
    if (seq === explainSeq) failedHere(error, out);
  }
}

async function fillNumbers(select) {
  try {
    const sites = (await ctx.api("/api/config/sites")).data.sites || [];
    for (const site of sites) {
      for (const number of site.numbers || []) {
        select.append(ctx.el("option", { value: number, text: `${number} (${site.name || site.id})` }));
      }
    }
  } catch { /* the text's own site code still works */ }
}

// -- suggestions --------------------------------------------------------------------------------------
let suggested = null;

async function loadSuggestions() {
  try {
    suggested = await ctx.api("/api/config/rules/suggestions");
  } catch (error) {
    failedHere(error, $("rules-suggestions"));
    return;
  }
  drawSuggestions();
}

function drawSuggestions() {
  const node = $("rules-suggestions");
  if (!node || !suggested) return;
  const { el } = ctx;
  if (!suggested.items.length) {
    node.replaceChildren(el("p", { class: "muted", text: suggested.corrected
      ? count("suggest_none", suggested.corrected) : t("suggest_nothing") }));
    return;
  }
  node.replaceChildren(el("ul", { class: "suggestions" }, ...suggested.items.map((s, n) => {
    const index = data.lexicon.findIndex((g) => g.name === s.group);
    const inDraft = index >= 0 && data.lexicon[index].phrases.includes(s.phrase);
    const id = `suggestion-${n}`;
    const button = el("button", { type: "button", class: "secondary small", "aria-describedby": id,
      text: inDraft ? t("in_draft") : t("to_draft") });
    if (index < 0 || inDraft) button.disabled = true;
    button.addEventListener("click", () => {
      addPhrase(index, s.phrase);
      $("rules-backtest-note").textContent = t("suggestion_added", { phrase: quote(s.phrase), group: s.group });
      $("rules-backtest").focus();
    });
    return el("li", { "data-phrase": s.phrase },
      el("span", { id, text: t("suggestion", { phrase: quote(s.phrase), kind: KINDS[s.kind]?.().toLowerCase() || s.kind,
        label: named(s.kind, s.label), in: count("in_corrected", s.count),
        where: index < 0 ? t("no_group") : t("would_join", { group: s.group }) }) }), button);
  })));
}

// -- backtest -----------------------------------------------------------------------------------------
const named = (kind, value) => (kind === "language" ? value : term(kind, value));
const labels = (l) => Object.keys(KINDS).map((k) => `${KINDS[k]().toLowerCase()} ${named(k, l[k])}`).join(", ");

function kindSection(kind, changes) {
  const { el } = ctx;
  const title = t("is", { what: KINDS[kind]() }) + (changes.count ? count("would_change", changes.count) : t("no_change"));
  if (!changes.count) return el("section", { "data-kind": kind }, el("h4", { text: title }));
  return el("section", { "data-kind": kind }, el("h4", { text: title }),
    el("div", { class: "table-wrap", tabindex: "0" }, el("table", { class: "transitions" },
      el("caption", { class: "muted", text: t("in_force_to_draft") }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("from") }), el("th", { scope: "col", text: t("to") }),
        el("th", { scope: "col", text: t("messages") }))),
      el("tbody", {}, ...changes.transitions.map((x) => el("tr", {}, el("td", { text: named(kind, x.from) }),
        el("td", { text: named(kind, x.to) }), el("td", { text: String(x.count) })))))),
    el("ul", { class: "examples", "aria-label": t("examples", { what: KINDS[kind]() }) }, ...changes.examples.map((e) =>
      el("li", { "data-id": e.id || "" },
        el("p", { class: "meta", text: [e.site || t("unknown_site"), e.received_at ? e.received_at.slice(0, 16).replace("T", " ") : ""]
          .filter(Boolean).join(" · ") }),
        el("p", { class: "text", text: e.text || "" }),
        el("p", { class: "change" }, `${t("is", { what: KINDS[kind]() })}${named(kind, e.old[kind])} → `,
          el("strong", { text: named(kind, e.new[kind]) })),
        el("p", { class: "muted help", text: t("now_then", { now: labels(e.old), then: labels(e.new) }) })))));
}

function qualitySection(quality) {
  const { el } = ctx;
  const head = el("h4", { text: t("quality") });
  if (!quality.corrected) {
    return el("section", { id: "rules-quality" }, head,
      el("p", { class: "muted", text: t("quality_none") }));
  }
  const cell = (share, right) => t("cell", { share: pct(share), right, of: quality.corrected });
  return el("section", { id: "rules-quality" }, head,
    el("div", { class: "table-wrap", tabindex: "0" }, el("table", {},
      el("caption", { class: "muted", text: count("right_on", quality.corrected) }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("label") }), el("th", { scope: "col", text: t("in_force") }),
        el("th", { scope: "col", text: t("draft_col") }))),
      el("tbody", {}, ...["topic", "nature", "urgency"].map((k) => el("tr", { "data-kind": k }, el("th", { scope: "row", text: KINDS[k]() }),
        el("td", { text: cell(quality[k].before, quality[k].right_before) }),
        el("td", { text: cell(quality[k].after, quality[k].right_after) })))))),
    el("p", { text: quality.net_fixed > 0 ? count("more_right", quality.net_fixed)
      : quality.net_fixed < 0 ? count("fewer_right", -quality.net_fixed) : t("as_many_right") }));
}

async function runBacktest() {
  const button = $("rules-backtest");
  const out = $("rules-backtest-result");
  button.disabled = true;
  button.textContent = t("backtesting");
  try {
    const r = await ctx.api("/api/config/rules/preview", { method: "POST", body: JSON.stringify({ data }) });
    const { el } = ctx;
    out.replaceChildren(
      el("p", { id: "rules-changed", text: t(r.complete ? "changed_all" : "changed_capped",
        { changed: count("messages_n", r.changed), read: r.read, cap: r.cap, version: r.version }) }),
      ...Object.keys(KINDS).map((kind) => kindSection(kind, r.changes[kind])),
      qualitySection(r.quality));
    backtested = true;
    $("rules-stale").hidden = true;
    out.dataset.done = String(Date.now());
  } catch (error) {
    failedHere(error, out);
  } finally {
    button.disabled = false;
    button.textContent = t("backtest");
  }
}

// -- the page -----------------------------------------------------------------------------------------
export const rulesPage = {
  render(root, section, context) {
    ctx = context;
    data = section;
    original = structuredClone(section);
    backtested = false;
    suggested = null;
    const { el } = ctx;
    const text = el("textarea", { id: "explain-text", rows: "2", maxlength: "1600", spellcheck: "false" });
    text.addEventListener("input", explainSoon);
    const to = el("select", { id: "explain-to" }, el("option", { value: "", text: t("no_number") }));
    to.addEventListener("change", explainSoon);
    const find = el("input", { id: "rules-find", type: "search", autocomplete: "off" });
    find.addEventListener("input", () => findGroups(find.value));
    const backtest = el("button", { id: "rules-backtest", type: "button", text: t("backtest") });
    backtest.addEventListener("click", runBacktest);
    root.append(
      el("div", { id: "rules-draft", class: "rules-draft", "aria-live": "polite" }),
      el("section", { class: "card studio", "aria-labelledby": "explain-title" },
        el("h3", { id: "explain-title", text: t("explain") }),
        el("div", { class: "field" }, el("label", { for: text.id, text: t("explain_text") }), text),
        el("div", { class: "field" }, el("label", { for: to.id, text: t("written_to") }), to),
        el("div", { id: "explain-result", class: "explain-result", "aria-live": "polite" })),
      el("section", { class: "card studio", "aria-labelledby": "suggestions-title" },
        el("h3", { id: "suggestions-title", text: t("suggestions") }),
        el("p", { class: "muted help", text: t("suggestions_help") }),
        el("div", { id: "rules-suggestions" }, el("p", { class: "muted", text: tr("loading") }))),
      el("section", { class: "card studio", "aria-labelledby": "backtest-title" },
        el("h3", { id: "backtest-title", text: t("backtest") }),
        el("p", { class: "muted help", text: t("backtest_help") }),
        el("p", { id: "rules-backtest-note", class: "help", "aria-live": "polite" }),
        backtest,
        el("p", { id: "rules-stale", class: "help", hidden: "", text: t("stale") }),
        el("div", { id: "rules-backtest-result", class: "backtest-result", "aria-live": "polite" })),
      el("h3", { class: "rules-groups-title", text: t("groups") }),
      el("div", { class: "field" }, el("label", { for: find.id, text: t("find_group") }), find),
      el("div", { id: "rules-groups", class: "admin-list" }, ...(data.lexicon || []).map(groupItem)));
    (data.lexicon || []).forEach((_, i) => drawPhrases(i));
    drafted();
    fillNumbers(to);
    loadSuggestions();
  },
  // a 400's path (lexicon[3].phrases[2]): open its group
  reveal(path) {
    const match = /^lexicon\[(\d+)\]/.exec(path);
    const node = match && document.querySelector(`#rules-groups > [data-path="lexicon[${match[1]}]"]`);
    if (node) { node.open = true; node.hidden = false; }
  },
  blocked() {
    const empty = (data?.lexicon || []).filter((g) => !g.phrases.length).map((g) => g.name);
    return empty.length ? tn("admin.empty_groups", empty.length, { groups: empty.join(", ") }) : "";
  },
};
