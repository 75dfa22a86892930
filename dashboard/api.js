// The operator API's reference page: renders /api/openapi.json (OpenAPI 3.1, generated from the
// API's pydantic models) as a list of routes with their parameters, bodies and answers.
// No library, no CDN; every text from the document is set with textContent. The page's own words are in the
// reader's language (i18n.js); the document's descriptions are the API's, in English.

import { loadLanguage, t as tr, translatePage } from "./i18n.js";

const t = (key, vars) => tr(`api.${key}`, vars);

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
};

let components = {};

const refName = (ref) => ref.split("/").pop();
const resolve = (schema) => (schema && schema.$ref ? components[refName(schema.$ref)] || {} : schema || {});

function typeOf(schema) {
  if (!schema) return "any";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(" | ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === "array") return `array of ${typeOf(schema.items)}`;
  if (schema.type === "object" && schema.additionalProperties) return `map of ${typeOf(schema.additionalProperties)}`;
  return schema.type || "object";
}

const LIMITS = { minLength: "min length", maxLength: "max length", minimum: "≥", maximum: "≤",
                 minItems: "min items", maxItems: "max items", pattern: "pattern", default: "default" };

function limits(schema) {
  const out = [];
  for (const [key, label] of Object.entries(LIMITS)) {
    if (schema[key] !== undefined && schema[key] !== null) out.push(`${label} ${JSON.stringify(schema[key])}`);
  }
  for (const option of schema.anyOf || []) out.push(...limits(option));
  return out;
}

const bounds = (schema) => limits(schema).join(", ");

// A schema as a nested list of its fields; ``seen`` stops recursion through a model met already.
function schemaTree(schema, seen = new Set()) {
  const target = resolve(schema);
  const name = schema && schema.$ref ? refName(schema.$ref) : null;
  const list = el("ul", { class: "schema" });
  if (name && seen.has(name)) return list;
  const next = new Set(seen);
  if (name) next.add(name);
  const required = new Set(target.required || []);
  for (const [field, sub] of Object.entries(target.properties || {})) {
    const item = el("li", {}, el("span", { class: "name", text: field }));
    if (required.has(field)) item.append(el("span", { class: "req", text: t("required") }));
    item.append(" ", el("span", { class: "type muted", text: typeOf(sub) }));
    const limits = bounds(resolve(sub));
    if (limits) item.append(el("span", { class: "muted", text: ` (${limits})` }));
    const description = sub.description || resolve(sub).description;
    if (description) item.append(el("div", { class: "muted", text: description }));
    const nested = [sub, ...(sub.anyOf || []), sub.items, sub.additionalProperties]
      .filter((s) => s && s.$ref && !next.has(refName(s.$ref)));
    for (const child of nested) item.append(schemaTree(child, next));
    list.append(item);
  }
  return list;
}

function parameters(op) {
  if (!op.parameters || !op.parameters.length) return null;
  const table = el("table", {}, el("tr", {}, ...["name", "in", "type", "limits", "description"].map((h) => el("th", { text: h }))));
  for (const p of op.parameters) {
    table.append(el("tr", {},
      el("td", { class: "word" }, el("span", { class: "name", text: p.name }), p.required ? el("span", { class: "req", text: t("required") }) : null),
      el("td", { class: "word", text: p.in }), el("td", { class: "type", text: typeOf(p.schema) }),
      el("td", { class: "muted", text: bounds(p.schema || {}) }), el("td", { text: p.description || "" })));
  }
  return el("div", {}, el("h4", { text: t("parameters") }), table);
}

function operation(path, method, op) {
  const id = op.operationId;
  const box = el("section", { class: "op", id },
    el("h3", {}, el("span", { class: `method ${method}`, text: method.toUpperCase() }), path),
    el("p", { text: op.summary || "" }));
  if (op.security && op.security.length === 0) box.append(el("p", { class: "muted", text: t("no_token") }));
  box.append(parameters(op) || "");
  const body = op.requestBody && op.requestBody.content["application/json"];
  if (body) {
    box.append(el("h4", { text: t(op.requestBody.required ? "body" : "body_optional", { type: typeOf(body.schema) }) }),
               schemaTree(body.schema));
  }
  const answers = el("h4", { text: t("answers") });
  const table = el("table", {});
  for (const [status, answer] of Object.entries(op.responses)) {
    const [type, content] = Object.entries(answer.content || {})[0] || ["", {}];
    const cell = el("td", {}, el("div", { text: answer.description }));
    if (content.schema) cell.append(el("div", { class: "type muted", text: `${type}: ${typeOf(content.schema)}` }));
    if (content.schema && content.schema.$ref && Number(status) < 400) cell.append(schemaTree(content.schema));
    table.append(el("tr", {}, el("td", { class: "name", text: status }), cell));
  }
  box.append(answers, table);
  return box;
}

async function main() {
  await loadLanguage();
  translatePage();
  document.title = t("title");
  let doc;
  try {
    const res = await fetch("/api/openapi.json", { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = await res.json();
  } catch (error) {
    const shown = document.getElementById("load-error");
    shown.textContent = t("unreadable", { message: error.message });
    shown.hidden = false;
    return;
  }
  components = (doc.components && doc.components.schemas) || {};
  document.getElementById("title").textContent = `${doc.info.title} (OpenAPI ${doc.openapi})`;
  document.getElementById("description").textContent = doc.info.description || "";
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, method, op]);
    }
  }
  const toc = el("ul");
  const operations = document.getElementById("operations");
  for (const [tag, ops] of byTag) {
    operations.append(el("h2", { class: "tag", text: tag }));
    for (const [path, method, op] of ops) {
      toc.append(el("li", {}, el("a", { href: `#${op.operationId}`, text: `${method.toUpperCase()} ${path}` })));
      operations.append(operation(path, method, op));
    }
  }
  document.getElementById("toc").append(toc);
}

main();
