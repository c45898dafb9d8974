// shopintent live dashboard: polls /v1/dashboard every second and redraws the charts.
// The API key (read scope) comes from the URL fragment (/#key=..., which the browser never
// sends to the server) or the key box; it is kept in this tab's sessionStorage only and sent
// as X-API-Key. With `serve --public-dashboard` the data needs no key.
"use strict";
const $ = (id) => document.getElementById(id);
const KEY_ITEM = "shopintent.apiKey";
(function takeKeyFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const key = fragment.get("key");
  if (key) {
    sessionStorage.setItem(KEY_ITEM, key);
    history.replaceState(null, "", location.pathname + location.search);  // out of the address bar
  }
})();
function withKey(headers = {}) {
  const key = sessionStorage.getItem(KEY_ITEM);
  return key ? {...headers, "X-API-Key": key} : headers;
}
function askForKey(message) {
  $("key-form").hidden = false;
  $("status").textContent = message;
}
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_ITEM, key);
  $("key-input").value = "";
  $("key-form").hidden = true;
  refresh();
});
const fmt = (x, d = 0) => (x === null || x === undefined) ? "–" : Number(x).toLocaleString(undefined, {maximumFractionDigits: d, minimumFractionDigits: d});
const palette = ["#2f6fed", "#e8590c", "#2b8a3e", "#ae3ec9", "#f08c00", "#1098ad", "#c92a2a", "#5c940d", "#862e9c", "#364fc7"];
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

const rateChart = new Chart($("chart-rate"), {
  type: "line",
  data: {labels: [], datasets: [{label: "events/s", data: [], borderColor: palette[0], backgroundColor: "rgba(47,111,237,.15)", fill: true, pointRadius: 0, tension: .25}]},
  options: {plugins: {legend: {display: false}}, scales: {y: {beginAtZero: true}}},
});
const funnelChart = new Chart($("chart-funnel"), {
  type: "bar",
  // Sessions with at least one event of each type (not a strict funnel: a session may buy without a cart event).
  data: {labels: ["with a view", "with an add to cart", "with a purchase"], datasets: [{label: "sessions", data: [0, 0, 0], backgroundColor: [palette[0], palette[1], palette[2]]}]},
  options: {indexAxis: "y", plugins: {legend: {display: false}}, scales: {x: {beginAtZero: true}}},
});
const intentChart = new Chart($("chart-intents"), {
  type: "bar",
  data: {labels: [], datasets: []},
  options: {plugins: {legend: {position: "bottom", labels: {boxWidth: 10}}}, scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}},
});
const decisionChart = new Chart($("chart-decisions"), {
  type: "doughnut",
  data: {labels: [], datasets: [{data: [], backgroundColor: palette}]},
  options: {plugins: {legend: {position: "bottom", labels: {boxWidth: 10}}}},
});
window.shopintentCharts = {rate: rateChart, funnel: funnelChart, intents: intentChart, decisions: decisionChart};

function drawIntents(intents) {
  const languages = Object.keys(intents).sort();
  const names = [...new Set(languages.flatMap((l) => Object.keys(intents[l])))].sort();
  intentChart.data.labels = languages;
  intentChart.data.datasets = names.map((name, i) => ({label: name, data: languages.map((l) => intents[l][name] || 0), backgroundColor: palette[i % palette.length]}));
  intentChart.update();
  $("intents-empty").style.display = languages.length ? "none" : "block";
}

function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }

function nextAction(probabilities) {
  if (!probabilities || typeof probabilities !== "object") return probabilities || "–";
  return Object.entries(probabilities).sort((a, b) => b[1] - a[1]).slice(0, 2)
    .map(([name, p]) => name + " " + fmt(p, 2)).join(" · ");
}

function drawSessions(data) {
  const body = document.querySelector("#sessions tbody");
  body.replaceChildren();
  for (const s of data.sessions) {
    const tr = document.createElement("tr");
    const sc = s.scores || {};
    // The service says each reason in words ("3 items in the cart ↑"); the feature name is the tooltip.
    const reasons = Array.isArray(sc.reasons) ? sc.reasons.map((r) => typeof r === "string" ? r : (r.text || r.feature)) : [];
    const features = Array.isArray(sc.reasons) ? sc.reasons.map((r) => r.feature || "").join(", ") : "";
    tr.append(cell(s.session_id.slice(0, 26)), cell(fmt(Object.values(s.counts).reduce((a, b) => a + b, 0))),
      cell(fmt(s.counts.view)), cell(fmt(s.counts.add_to_cart)), cell(fmt(s.counts.purchase)),
      cell(sc.purchase_probability === undefined ? "–" : fmt(sc.purchase_probability, 3)),
      cell(sc.abandonment_risk === undefined ? "–" : fmt(sc.abandonment_risk, 3)),
      cell(nextAction(sc.next_action)), cell(reasons.join(" · "), "reasons"));
    tr.lastChild.title = features;
    body.append(tr);
  }
  $("sessions-note").textContent = data.scores_unavailable ? "scores unavailable: " + data.scores_unavailable : "";
}

function drawBudget(budget) {
  // The decision engine's own daily cap, and what it reserved on the stream's current day.
  if (!budget || budget.daily === null || budget.daily === undefined) {
    $("kpi-spend").textContent = "–";
    $("kpi-spend-day").textContent = "decision engine not loaded";
    return;
  }
  $("kpi-spend").textContent = fmt(budget.spent, 2) + " / " + fmt(budget.daily, 0);
  $("kpi-spend-day").textContent = budget.day ? "day " + budget.day + " (UTC)" : "";
}

function drawBenchmark(div, bench) {
  // The served model's own benchmark rows (picked by its model id on the server), each with the
  // split it was measured on, and the command that measured them; or why there are none.
  if (!bench) return;
  if (bench.missing) {
    const none = document.createElement("div");
    none.className = "muted bench-missing";
    none.textContent = bench.missing;
    div.append(none);
    return;
  }
  const what = document.createElement("div");
  what.className = "muted";
  what.textContent = "held-out: " + (bench.model || bench.model_id);
  div.append(what);
  const ul = document.createElement("ul");
  let previous = null;
  for (const x of bench.measurements) {
    const li = document.createElement("li");
    li.textContent = x.name + ": " + fmt(x.value, Math.abs(x.value) < 10 ? 3 : 0) + " " + (x.unit || "");
    li.title = x.detail || "";
    if (x.detail && x.detail !== previous) {  // the split once, where it changes
      const split = document.createElement("div");
      split.className = "muted split";
      split.textContent = x.detail;
      li.append(split);
    }
    previous = x.detail;
    ul.append(li);
  }
  div.append(ul);
  const cmd = document.createElement("div");
  cmd.className = "muted";
  cmd.textContent = "`" + bench.command + "` · " + (bench.created_at || "");
  div.append(cmd);
}

function drawModels(models) {
  const box = $("models");
  box.replaceChildren();
  for (const m of models) {
    const div = document.createElement("div");
    div.className = "model";
    const h = document.createElement("h3");
    h.textContent = m.name + " ";
    const badge = document.createElement("span");
    badge.className = m.ready ? "ok" : "missing";
    badge.textContent = m.ready ? "● loaded" : "○ not available";
    h.append(badge);
    div.append(h);
    const p = document.createElement("div");
    p.className = "muted";
    p.textContent = m.ready ? ("version " + (m.version || "?")) : (m.reason || "");
    div.append(p);
    drawBenchmark(div, m.benchmark);
    box.append(div);
  }
}

function pct(x) { return (100 * x).toFixed(1) + " %"; }

function drawRisk(risk, models) {
  if (!risk) return;
  const loaded = (models || []).some((m) => m.name === "risk" && m.ready);
  $("risk-session-rate").textContent = pct(risk.session.risk_rate) + " of " + fmt(risk.session.verdicts);
  $("risk-transaction-rate").textContent = pct(risk.transaction.risk_rate) + " of " + fmt(risk.transaction.verdicts);
  $("risk-held").textContent = fmt(risk.held);
  const reasons = $("risk-reasons"); reasons.replaceChildren();
  for (const r of risk.top_reasons) { const li = document.createElement("li"); li.textContent = r.reason + " (" + fmt(r.count) + ")"; reasons.appendChild(li); }
  const holds = $("risk-holds"); holds.replaceChildren();
  for (const h of risk.recent_holds.slice(0, 5)) {
    const li = document.createElement("li");
    li.textContent = h.kind + " " + (h.id || "") + " · " + h.action + " · " + fmt(h.score, 3) + (h.reasons.length ? " · " + h.reasons[0] : "");
    holds.appendChild(li);
  }
  $("risk-note").textContent = loaded ? (risk.held ? "" : "no holds yet") : "risk model not loaded: run `shopintent models prepare`";
}

async function refresh() {
  try {
    const response = await fetch("/v1/dashboard", {cache: "no-store", headers: withKey()});
    if (response.status === 401 || response.status === 403) {
      askForKey(response.status === 401 ? "enter an API key with the read scope to see live data"
                                         : "this API key has no read scope: enter another");
      return;
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    const d = await response.json();
    $("kpi-rate").textContent = fmt(d.events.per_second, 1);
    $("kpi-stored").textContent = fmt(d.events.stored);
    $("kpi-live").textContent = fmt(d.live_sessions);
    const nDecisions = Object.values(d.decisions).reduce((a, b) => a + b, 0);
    $("kpi-decisions").textContent = fmt(nDecisions);
    drawBudget(d.budget);
    rateChart.data.labels = d.events.series.map(([t]) => new Date(t * 1000).toLocaleTimeString());
    rateChart.data.datasets[0].data = d.events.series.map(([, c]) => c);
    rateChart.update();
    funnelChart.data.datasets[0].data = d.funnel.map((f) => f.sessions);
    funnelChart.update();
    drawIntents(d.intents);
    decisionChart.data.labels = Object.keys(d.decisions);
    decisionChart.data.datasets[0].data = Object.values(d.decisions);
    decisionChart.update();
    $("decisions-note").textContent = nDecisions ? "reserved since start: " + fmt(d.spend, 2) : "no decisions yet";
    drawSessions(d);
    drawModels(d.models);
    drawRisk(d.risk, d.models);
    const clock = d.clock ? new Date(d.clock * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "–";
    $("status").textContent = "stream clock " + clock + " · " + d.stream.backend + " stream · updated " + new Date().toLocaleTimeString();
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (err) {
    $("status").textContent = "dashboard data unavailable: " + err.message;
  }
}

$("query-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("query-text").value.trim();
  const out = $("query-result");
  if (!text) return;
  out.textContent = "…";
  try {
    const response = await fetch("/v1/intent", {method: "POST", headers: withKey({"Content-Type": "application/json"}), body: JSON.stringify({text})});
    const body = await response.json();
    out.replaceChildren();
    if (!response.ok) { out.className = "result missing"; out.textContent = body.detail || ("HTTP " + response.status); return; }
    out.className = "result";
    const b = document.createElement("b");
    b.id = "query-intent";
    b.textContent = body.intent;
    out.append("intent ", b, " · " + (body.language || "?") + " · confidence " + fmt(body.confidence, 2));
    if (body.sentiment !== null && body.sentiment !== undefined) out.append(" · sentiment " + (typeof body.sentiment === "object" ? (body.sentiment.label || JSON.stringify(body.sentiment)) : body.sentiment));
    if (body.slots && (Array.isArray(body.slots) ? body.slots.length : Object.keys(body.slots).length)) {
      const pre = document.createElement("div");
      pre.className = "muted";
      pre.textContent = "slots: " + JSON.stringify(body.slots);
      out.append(pre);
    }
    refresh();
  } catch (err) { out.textContent = "request failed: " + err.message; }
});

refresh();
setInterval(refresh, 1000);
