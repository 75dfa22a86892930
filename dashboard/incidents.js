// Emerging issues: a banner for each open incident (GET /api/incidents), until someone acknowledges it
// (POST /api/incidents/{id}/ack). Customer text is only ever set with textContent.

const POLL_MS = 15000;
let deps = null;
let timer = null;

export function initIncidents(dependencies) {
  deps = dependencies;
  const poll = () => { if (deps.ready()) show().catch(() => {}); };
  timer = timer || setInterval(poll, POLL_MS);
  poll();
  setTimeout(poll, 500); // signed in just now: the first answer without waiting a whole period
}

function banner(incident) {
  const { el } = deps;
  const where = incident.site ? deps.siteName(incident.site) : "the whole network";
  const since = new Date(incident.opened_at).toLocaleTimeString(deps.locale(), { hour: "2-digit", minute: "2-digit" });
  const examples = el("ul", { class: "incident-examples" },
    ...incident.examples.map((m) => el("li", {}, el("span", { class: "muted", text: `${m.from || ""} ` }),
      el("q", { text: m.text }))));
  const button = el("button", { type: "button", text: "Acknowledge", "data-incident": incident.id });
  button.addEventListener("click", () => acknowledge(incident.id, button));
  return el("div", { class: "incident", id: `incident-${incident.id}` },
    el("p", {},
      el("strong", { text: `Emerging issue: ${incident.topic} at ${where}` }),
      el("span", { text: ` — ${incident.observed} messages, about ${incident.expected} usual at this hour (since ${since}).` })),
    examples, button);
}

async function show() {
  const box = document.getElementById("incidents");
  if (!box) return;
  const data = await deps.api("/api/incidents?status=open");
  box.replaceChildren(...data.items.map(banner));
  box.hidden = data.items.length === 0;
}

async function acknowledge(id, button) {
  button.disabled = true;
  try {
    const name = deps.who();
    await deps.api(`/api/incidents/${encodeURIComponent(id)}/ack`,
      { method: "POST", body: JSON.stringify(name ? { by: name } : {}) });
    await show();
  } catch (error) {
    button.disabled = false;
    deps.handle(error);
  }
}
