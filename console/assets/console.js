// The Switchboard console: a few pages over the logs API, no framework, no build step.
// Every value shown is set as text (never as HTML), so a record cannot inject markup.
"use strict";

const KEY = "switchboard.adminKey";
const page = document.getElementById("page");

// ---- the API, with the admin key asked for once per tab ----

let asking = null;

function askForKey() {
  if (asking) return asking;
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  asking = new Promise((resolve) => {
    form.onsubmit = () => {
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = "";
      asking = null;
      resolve();
    };
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return asking;
}

async function api(path, options = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const headers = Object.assign({}, options.headers || {});
    const key = sessionStorage.getItem(KEY);
    if (key) headers["Authorization"] = "Bearer " + key;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      await askForKey();
      continue;
    }
    return response;
  }
  throw new Error("the admin key was refused");
}

async function apiJson(path, options) {
  const response = await api(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body.error && body.error.message) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

// ---- building the page ----

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    // Through the CSSOM: the page's CSP forbids style attributes, not this.
    else if (name === "style") node.style.cssText = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(title, ...content) {
  document.title = `${title} · Switchboard`;
  page.replaceChildren(el("h1", { text: title }), ...content);
}

function failure(error) {
  return el("p", { class: "error-text", role: "alert", text: String(error.message || error) });
}

const seconds = (value) => (typeof value === "number" ? `${(value * 1000).toFixed(0)} ms` : "");
const time = (text) => (text ? new Date(text).toLocaleString() : "");

function badges(record) {
  const out = [el("span", { class: `badge ${record.status}`, text: record.status })];
  if (record.fallback_used) out.push(el("span", { class: "badge fallback", text: "fallback" }));
  if (record.retries > 0) out.push(el("span", { class: "badge retry", text: `${record.retries} ${record.retries === 1 ? "retry" : "retries"}` }));
  if (record.json_valid === false) out.push(el("span", { class: "badge error", text: "invalid JSON" }));
  if (record.continued) out.push(el("span", { class: "badge fallback", text: "continued" }));
  return out;
}

// The filter box takes the API's own syntax: `metadata.language=es model=voice-fast`.
function filterQuery(text) {
  const params = new URLSearchParams();
  for (const pair of text.trim().split(/\s+/).filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at > 0) params.append(pair.slice(0, at), pair.slice(at + 1));
  }
  return params;
}

// ---- pages ----

async function logsPage(query) {
  const params = new URLSearchParams(query);
  const text = params.get("q") || "";
  const filter = filterQuery(text);
  for (const bound of ["from", "to"]) {
    if (params.get(bound)) filter.set(bound, new Date(params.get(bound)).toISOString());
  }
  if (params.get("cursor")) filter.set("cursor", params.get("cursor"));
  filter.set("limit", "50");

  const form = el("form", { class: "filter", role: "search" },
    el("label", {}, "Filter", el("input", { name: "q", value: text,
      placeholder: "metadata.language=es model=voice-fast", "aria-label": "Filter" })),
    el("label", {}, "From", el("input", { name: "from", type: "datetime-local", value: params.get("from") || "" })),
    el("label", {}, "To", el("input", { name: "to", type: "datetime-local", value: params.get("to") || "" })),
    el("button", { type: "submit", text: "Search" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of ["q", "from", "to"]) {
      const value = form.elements[name].value;
      if (value) next.set(name, value);
    }
    location.hash = `#/logs?${next}`;
  });
  show("Logs", form, el("p", { class: "muted", text: "Loading…" }));

  let body;
  try {
    body = await apiJson(`/api/logs?${filter}`);
  } catch (error) {
    show("Logs", form, failure(error));
    return;
  }
  const rows = body.data.map((record) => el("tr", {},
    el("td", {}, el("a", { href: `#/logs/${encodeURIComponent(record.id)}`, text: time(record.start_time) })),
    el("td", { text: record.model }),
    el("td", {}, badges(record)),
    el("td", { text: seconds(record.time_to_first_token) }),
    el("td", { text: seconds(record.latency) }),
    el("td", {}, record.thread_identifier
      ? el("a", { href: `#/threads/${encodeURIComponent(record.thread_identifier)}`, text: record.thread_identifier })
      : ""),
    el("td", { class: "muted", text: Object.entries(record.metadata || {}).map(([k, v]) => `${k}=${v}`).join(" ") })));
  const table = el("table", { "aria-label": "Logs" },
    el("thead", {}, el("tr", {}, ["Start", "Model", "Status", "TTFT", "Latency", "Thread", "Metadata"]
      .map((name) => el("th", { scope: "col", text: name })))),
    el("tbody", {}, rows));
  const more = [];
  if (body.next_cursor) {
    const next = new URLSearchParams(params);
    next.set("cursor", body.next_cursor);
    more.push(el("a", { href: `#/logs?${next}`, role: "button", text: "Next page" }));
  }
  const exportFilter = filterQuery(text);
  const exports = el("p", {}, "Export this filter: ",
    ["jsonl", "csv", "openai"].map((format) =>
      el("button", { type: "button", text: format.toUpperCase(),
        onclick: () => download(exportFilter, format) })));
  show("Logs", form,
    el("p", { class: "muted", text: `${body.data.length} logs on this page` }),
    table, el("p", {}, more), exports);
}

// Exports go through fetch (the key travels in a header, never in a URL), then to a file.
async function download(filter, format) {
  const query = new URLSearchParams(filter);
  query.set("format", format);
  const response = await api(`/api/export?${query}`);
  const blob = await response.blob();
  const link = el("a", { href: URL.createObjectURL(blob), download: `switchboard-export.${format === "csv" ? "csv" : "jsonl"}` });
  document.body.append(link);
  link.click();
  link.remove();
}

function bubbles(record) {
  const messages = Array.isArray(record.input) ? [...record.input] : [];
  if (record.output) messages.push(record.output);
  return el("div", { class: "bubbles" }, messages.map((message) => {
    let content = message.content;
    if (Array.isArray(content)) content = content.map((part) => part.text || JSON.stringify(part)).join("\n");
    if (content === null || content === undefined) content = "";
    const calls = (message.tool_calls || []).map((call) =>
      `→ ${call.function ? call.function.name : "tool"}(${call.function ? call.function.arguments : ""})`);
    return el("div", { class: `bubble ${message.role}` },
      el("span", { class: "role", text: message.role }), [String(content), ...calls].filter(Boolean).join("\n"));
  }));
}

function attemptsTimeline(attempts) {
  const longest = Math.max(0.001, ...attempts.map((a) => a.latency || 0));
  return el("table", { "aria-label": "Attempts" },
    el("thead", {}, el("tr", {}, ["Target", "Status", "Why it failed", "TTFT", "Latency", ""]
      .map((name) => el("th", { scope: "col", text: name })))),
    el("tbody", {}, attempts.map((attempt) => el("tr", {},
      el("td", { text: `${attempt.provider_id} ${attempt.provider_model || ""}` }),
      el("td", { text: attempt.status_code }),
      el("td", { text: attempt.error_kind || "" }),
      el("td", { text: seconds(attempt.time_to_first_token) }),
      el("td", { text: seconds(attempt.latency) }),
      el("td", {}, el("div", { class: "timeline" },
        el("div", { class: "bar", style: `left:0;width:${100 * (attempt.latency || 0) / longest}%;background:${attempt.error_kind ? "#f04438" : "#2456d6"}` })))))));
}

async function recordPage(id) {
  show("Log", el("p", { class: "muted", text: "Loading…" }));
  let record;
  try {
    record = await apiJson(`/api/logs/${encodeURIComponent(id)}`);
  } catch (error) {
    show("Log", failure(error));
    return;
  }
  const scores = record.scores || [];
  show(`Log ${record.id}`,
    el("p", {}, badges(record), ` ${record.model} → ${record.provider_id || ""} ${record.provider_model || ""}, `,
      `TTFT ${seconds(record.time_to_first_token)}, latency ${seconds(record.latency)}`,
      record.thread_identifier ? [" · ", el("a", { href: `#/threads/${encodeURIComponent(record.thread_identifier)}`, text: `thread ${record.thread_identifier}` })] : "",
      record.trace_unique_id ? [" · ", el("a", { href: `#/traces/${encodeURIComponent(record.trace_unique_id)}`, text: "trace" })] : ""),
    el("h2", { text: "Conversation" }), bubbles(record),
    el("h2", { text: "Attempts" }), attemptsTimeline(record.attempts || []),
    el("h2", { text: "Scores" }),
    scores.length ? el("ul", {}, scores.map((s) => el("li", { text: `${s.evaluator_slug}: ${JSON.stringify(s.numerical_value ?? s.boolean_value ?? s.categorical_value ?? s.string_value)}` })))
      : el("p", { class: "muted", text: "No scores." }),
    el("h2", { text: "Raw JSON" }), el("pre", { text: JSON.stringify(record, null, 2) }));
}

const USE_CASE_COLOURS = ["#2456d6", "#7a5af8", "#0e9384", "#dc6803", "#c11574", "#475467"];

async function threadPage(id) {
  show(`Thread ${id}`, el("p", { class: "muted", text: "Loading…" }));
  let thread;
  try {
    thread = await apiJson(`/api/threads/${encodeURIComponent(id)}`);
  } catch (error) {
    show(`Thread ${id}`, failure(error));
    return;
  }
  const turns = thread.data;
  const start = Math.min(...turns.map((t) => Date.parse(t.start_time)));
  const end = Math.max(...turns.map((t) => Date.parse(t.timestamp || t.start_time)));
  const span = Math.max(1, end - start);
  const useCases = [...new Set(turns.map((t) => (t.metadata || {}).use_case))];
  const rows = turns.map((turn, index) => {
    const offset = Date.parse(turn.start_time) - start;
    const duration = (turn.latency || 0) * 1000;
    const colour = USE_CASE_COLOURS[useCases.indexOf((turn.metadata || {}).use_case) % USE_CASE_COLOURS.length];
    const ttft = typeof turn.time_to_first_token === "number"
      ? el("div", { class: "ttft", title: `first token ${seconds(turn.time_to_first_token)}`,
          style: `left:${100 * (offset + turn.time_to_first_token * 1000) / span}%` })
      : null;
    return el("tr", { "data-turn": index },
      el("td", { text: index }),
      el("td", { text: `+${(offset / 1000).toFixed(2)} s` }),
      el("td", {}, el("a", { href: `#/logs/${encodeURIComponent(turn.id)}`, text: (turn.metadata || {}).use_case || turn.model })),
      el("td", {}, badges(turn), turn.max_stall > 1 ? el("span", { class: "badge error", text: `stall ${seconds(turn.max_stall)}` }) : null),
      el("td", { text: seconds(turn.time_to_first_token) }),
      el("td", { text: seconds(turn.latency) }),
      el("td", {}, el("div", { class: "timeline" },
        el("div", { class: "bar", style: `left:${100 * offset / span}%;width:${Math.max(0.5, 100 * duration / span)}%;background:${colour}` }),
        ttft)));
  });
  show(`Thread ${id}`,
    el("p", { class: "muted", text: `${turns.length} turns over ${(span / 1000).toFixed(1)} s` }),
    el("table", { "aria-label": "Turns" },
      el("thead", {}, el("tr", {}, ["Turn", "Start", "Use case", "Status", "TTFT", "Duration", "Time line"]
        .map((name) => el("th", { scope: "col", text: name })))),
      el("tbody", {}, rows)));
}

async function tracePage(id) {
  show(`Trace ${id}`, el("p", { class: "muted", text: "Loading…" }));
  let trace;
  try {
    trace = await apiJson(`/api/traces/${encodeURIComponent(id)}`);
  } catch (error) {
    show(`Trace ${id}`, failure(error));
    return;
  }
  const spans = [...(trace.spans || []), ...(trace.orphans || [])];
  const render = (span) => el("li", {},
    el("a", { href: `#/logs/${encodeURIComponent(span.id)}`, text: span.span_name || span.model || span.id }),
    ` ${seconds(span.latency)} `, badges(span),
    (span.children || []).length ? el("ul", {}, span.children.map(render)) : null);
  show(`Trace ${id}`, el("ul", { "aria-label": "Spans" }, spans.map(render)));
}

async function targetsPage() {
  show("Targets", el("p", { class: "muted", text: "Loading…" }));
  let body;
  try {
    body = await apiJson("/api/admin/targets");
  } catch (error) {
    show("Targets", failure(error));
    return;
  }
  const order = async (action, target) => {
    await apiJson(`/api/admin/targets/${action}`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ provider: target.provider, model: target.model, reason: "console" }),
    });
    targetsPage();
  };
  show("Targets", el("table", { "aria-label": "Targets" },
    el("thead", {}, el("tr", {}, ["Provider", "Model", "State", "Error rate", "TTFT p95", "Used by", ""]
      .map((name) => el("th", { scope: "col", text: name })))),
    el("tbody", {}, body.data.map((target) => el("tr", {},
      el("td", { text: target.provider }),
      el("td", { text: target.model }),
      el("td", { text: target.state + (target.reason ? ` (${target.reason})` : "") }),
      el("td", { text: typeof target.error_rate === "number" ? `${(target.error_rate * 100).toFixed(1)} %` : "" }),
      el("td", { text: seconds(target.ttft_p95) }),
      el("td", { text: (target.used_by || []).join(", ") }),
      el("td", {}, target.state === "disabled"
        ? el("button", { type: "button", text: "Enable", onclick: () => order("enable", target) })
        : el("button", { type: "button", text: "Disable", onclick: () => order("disable", target) })))))));
}

let liveTimer = null;

// The last 15 minutes of the whole fleet (from the store), refreshed every 5 s.
async function livePage() {
  const render = async () => {
    let stats;
    try {
      stats = await apiJson("/api/stats?window=15m");
    } catch (error) {
      show("Live", failure(error));
      return;
    }
    const share = (n) => (stats.requests ? ` (${(100 * n / stats.requests).toFixed(1)} %)` : "");
    const cells = [
      ["Requests", stats.requests],
      ["Errors", `${stats.errors}${share(stats.errors)}`],
      ["TTFT p50", seconds(stats.ttft_p50)],
      ["TTFT p99", seconds(stats.ttft_p99)],
      ["Retries", stats.retries],
      ["Fallbacks", `${stats.fallbacks}${share(stats.fallbacks)}`],
      ["Stream timeouts", stats.stream_timeouts],
      ["Invalid JSON", stats.invalid_json],
    ];
    show("Live",
      el("p", { class: "muted", text: `Last 15 minutes, every gateway, since ${time(stats.from)}; refreshed every 5 s${stats.truncated ? " (the newest 200,000 requests)" : ""}.` }),
      el("table", { "aria-label": "Live counters" },
        el("tbody", {}, cells.map(([name, value]) =>
          el("tr", {}, el("th", { scope: "row", text: name }), el("td", { text: value }))))));
  };
  await render();
  liveTimer = setInterval(() => {
    if (!location.hash.startsWith("#/live")) return;
    render();
  }, 5000);
}

// ---- routing ----

function route() {
  if (liveTimer) {
    clearInterval(liveTimer);
    liveTimer = null;
  }
  const hash = location.hash.replace(/^#\/?/, "") || "logs";
  const [path, query] = hash.split("?");
  const [section, ...rest] = path.split("/");
  const id = decodeURIComponent(rest.join("/"));
  if (section === "logs" && id) return recordPage(id);
  if (section === "threads" && id) return threadPage(id);
  if (section === "traces" && id) return tracePage(id);
  if (section === "targets") return targetsPage();
  if (section === "live") return livePage();
  return logsPage(query || "");
}

window.addEventListener("hashchange", route);
route();
