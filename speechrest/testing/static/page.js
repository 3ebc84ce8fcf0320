// The emulator's page: server-sent events from /_emulator/events keep it live.
// Plain DOM, no framework, no build step; every value is set as text, never as HTML.
"use strict";

const MAX_ROWS = 500;
const GROUP_TITLES = {
  transcriptions: "Transcriptions", datasets: "Datasets", models: "Models",
  endpoints: "Endpoints", evaluations: "Evaluations", projects: "Projects",
};
const page = { requests: new Map(), selected: null, sections: null };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function clock(seconds) {
  if (!seconds) return "";
  const d = new Date(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function statusBadge(status) {
  if (status === null || status === undefined) return el("span", { class: "badge pending" }, "…");
  return el("span", { class: `badge s${String(status)[0]}` }, status);
}

function entityBadge(status) {
  return el("span", { class: `badge ${status || ""}` }, status || "—");
}

// -- requests ------------------------------------------------------------------------------

function matches(r, text) {
  if (!text) return true;
  const hay = [r.url, r.method, r.operation, r.status, r.answeredBy].join(" ").toLowerCase();
  return text.toLowerCase().split(/\s+/).every((word) => hay.includes(word));
}

function shortUrl(url) {
  // The path and its query, without the api-version every API request carries.
  const [path, query] = url.split("?", 2);
  const params = new URLSearchParams(query || "");
  params.delete("api-version");
  const rest = params.toString();
  return rest ? `${path}?${decodeURIComponent(rest)}` : path;
}

function renderRequests() {
  const text = document.getElementById("filter").value.trim();
  const rows = [...page.requests.values()].sort((a, b) => b.seq - a.seq);
  const body = el("tbody");
  for (const r of rows) {
    if (!matches(r, text)) continue;
    body.append(el("tr", {
      class: `request${r.seq === page.selected ? " selected" : ""}`,
      dataset: { seq: r.seq, status: r.status ?? "" },
      onclick: () => select(r.seq),
    },
    el("td", {}, clock(r.time)),
    el("td", {}, r.method),
    el("td", { class: "path", title: r.url }, shortUrl(r.url),
      r.operation ? el("div", { class: "operation" }, r.operation) : null),
    el("td", {}, statusBadge(r.status)),
    el("td", { class: "rule" }, r.answeredBy || ""),
    el("td", { class: "num" }, r.durationMs ?? "")));
  }
  document.querySelector("#requests tbody").replaceWith(body);
  document.getElementById("no-requests").hidden = rows.length > 0;
}

async function select(seq) {
  page.selected = seq;
  renderRequests();
  const box = document.getElementById("detail");
  let detail;
  try {
    const response = await fetch(`/_emulator/api/requests/${seq}`);
    detail = await response.json();
    if (!response.ok) throw new Error(detail.error || response.statusText);
  } catch (error) {
    box.replaceChildren(el("p", { class: "error" }, `Request ${seq}: ${error.message}`));
    return;
  }
  if (page.selected !== seq) return;
  const facts = el("dl", {});
  const fact = (name, value) => {
    if (value !== null && value !== undefined && value !== "") facts.append(el("dt", {}, name), el("dd", {}, value));
  };
  fact("Request", `#${detail.seq} ${detail.method} ${detail.url}`);
  fact("Status", detail.status ?? "being handled");
  fact("Operation", detail.operation);
  fact("Answered by", detail.answeredBy);
  fact("Received", new Date(detail.time * 1000).toISOString());
  fact("Took", detail.durationMs === null ? null : `${detail.durationMs} ms`);
  fact("apim-request-id", detail.requestId);
  const headers = el("dl", { id: "detail-headers" });
  for (const [name, value] of Object.entries(detail.headers)) {
    headers.append(el("dt", {}, name), el("dd", {}, value));
  }
  box.replaceChildren(facts, el("h3", {}, "Headers"), headers);
  if (detail.definition) {
    box.append(el("h3", {}, "Definition"),
      el("pre", { id: "detail-definition" }, JSON.stringify(detail.definition, null, 2)));
  }
}

// -- entities, web hooks, quotas -------------------------------------------------------------

function showEntity(kind, e) {
  page.selected = null;
  renderRequests();
  const facts = el("dl", {}, el("dt", {}, kind), el("dd", {}, `${e.name} (${e.id})`),
    el("dt", {}, "Status"), el("dd", {}, e.status || "—"));
  document.getElementById("detail").replaceChildren(facts,
    el("h3", {}, "As the API returns it"),
    el("pre", { id: "detail-entity" }, JSON.stringify(e.json, null, 2)));
}

function entityTable(kind, items, withLocale) {
  const head = el("tr", {}, el("th", {}, "Name"), el("th", {}, "Status"),
    withLocale ? el("th", {}, "Locale") : null, el("th", {}, "Last action"), el("th", {}, "Id"));
  const body = el("tbody");
  for (const e of items) {
    body.append(el("tr", { class: "entity", dataset: { id: e.id, status: e.status || "" },
      onclick: () => showEntity(kind, e) },
      el("td", {}, e.name, e.error ? el("div", { class: "error" }, e.error) : null),
      el("td", {}, entityBadge(e.status)),
      withLocale ? el("td", {}, e.locale || "") : null,
      el("td", {}, e.lastAction || ""),
      el("td", { class: "muted", title: e.id }, e.id.slice(0, 8))));
  }
  return el("table", {}, el("thead", {}, head), body);
}

function renderEntities(entities) {
  const box = el("div", { id: "entities" });
  for (const [group, title] of Object.entries(GROUP_TITLES)) {
    const { count, items } = entities[group];
    if (!count) continue;
    const shown = items.length < count ? ` (newest ${items.length} of ${count})` : ` (${count})`;
    box.append(el("div", { class: "group", dataset: { group } },
      el("h3", {}, title, el("span", { class: "muted" }, shown)),
      entityTable(title.slice(0, -1), items, group !== "projects")));
  }
  if (!box.children.length) box.append(el("p", { class: "muted" }, "No entities yet."));
  document.getElementById("entities").replaceWith(box);
}

function renderWebhooks(hooks) {
  const box = el("div", { id: "webhooks" });
  for (const hook of hooks.items) {
    const deliveries = el("tbody");
    for (const d of hook.deliveries) {
      deliveries.append(el("tr", { class: "delivery", dataset: { event: d.event, status: d.status ?? "" } },
        el("td", {}, clock(d.time)),
        el("td", {}, d.event),
        el("td", { class: "num" }, d.attempt),
        el("td", {}, d.status === null ? el("span", { class: "badge s5" }, d.outcome) : statusBadge(d.status)),
        el("td", { class: "muted signature", title: d.signature || "" }, d.signature || "(no secret)")));
    }
    box.append(el("div", { class: "hook", dataset: { id: hook.id, status: hook.status || "" } },
      el("h3", { class: "entity", onclick: () => showEntity("Web hook", hook) }, hook.name, " ",
        entityBadge(hook.status)),
      el("dl", {}, el("dt", {}, "URL"), el("dd", {}, hook.webUrl),
        el("dt", {}, "Events"), el("dd", {}, hook.events.join(", "))),
      hook.error ? el("p", { class: "error" }, hook.error) : null,
      hook.deliveries.length
        ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Time"), el("th", {}, "Event"),
          el("th", { class: "num" }, "Attempt"), el("th", {}, "Answer"), el("th", {}, "Signature sent"))), deliveries)
        : el("p", { class: "muted" }, "Nothing sent yet.")));
  }
  if (!hooks.items.length) box.append(el("p", { class: "muted" }, "No web hooks."));
  document.getElementById("webhooks").replaceWith(box);
}

function renderQuotas(quotas) {
  const box = document.getElementById("quotas-box");
  box.hidden = !quotas;
  if (!quotas) return;
  const body = el("tbody");
  const names = { fast: "Fast transcription", rest: "REST API" };
  for (const [family, q] of Object.entries(quotas)) {
    body.append(el("tr", { dataset: { family } }, el("td", {}, names[family] || family),
      el("td", {}, q.limit || "not metered"), el("td", { class: "num" }, q.admitted),
      el("td", { class: "num throttled" }, q.throttled)));
  }
  document.querySelector("#quotas tbody").replaceWith(body);
}

function renderFaults(faults) {
  const box = document.getElementById("faults-box");
  box.hidden = !faults;
  if (!faults) return;
  const injected = Object.entries(faults.injected).map(([name, n]) => `${name} × ${n}`).join(", ");
  document.getElementById("faults").textContent =
    `${faults.active} of ${faults.rules} rules active; injected: ${injected || "none yet"}`;
}

function renderCounts(emulator) {
  const number = (n) => n.toLocaleString("en-US");
  document.getElementById("endpoint").textContent = `${emulator.endpoint} · api-version ${emulator.apiVersion}`;
  document.getElementById("counts").textContent =
    `${number(emulator.received)} requests received, the latest ${number(emulator.keep)} kept`;
}

// -- the live feed -------------------------------------------------------------------------

function apply(data) {
  for (const r of data.requests) page.requests.set(r.seq, r);
  if (data.requests.some((r) => r.seq === page.selected)) select(page.selected);  // answered now
  if (page.requests.size > MAX_ROWS) {
    const old = [...page.requests.keys()].sort((a, b) => a - b).slice(0, page.requests.size - MAX_ROWS);
    for (const seq of old) page.requests.delete(seq);
  }
  renderRequests();
  renderCounts(data.emulator);
  renderQuotas(data.quotas);
  renderFaults(data.faults);
  if (data.entities) {
    renderEntities(data.entities);
    renderWebhooks(data.entities.webhooks);
  }
}

function connection(state, text) {
  const badge = document.getElementById("connection");
  badge.dataset.state = state;
  badge.textContent = text;
}

function connect() {
  const source = new EventSource("/_emulator/events");
  source.addEventListener("snapshot", (event) => {
    page.requests.clear();
    apply(JSON.parse(event.data));
    connection("live", "live");
  });
  source.addEventListener("update", (event) => apply(JSON.parse(event.data)));
  source.addEventListener("error", () => connection("down", "emulator stopped? reconnecting…"));
}

document.getElementById("filter").addEventListener("input", renderRequests);
connect();
