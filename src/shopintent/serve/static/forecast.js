// shopintent dashboard, forecast card: asks GET /v1/forecast for the shop's (or a typed category's)
// units bought per hour, and draws the last 48 hours with the next hours' forecast and its 80 % and
// 95 % conformal bands. Refreshes every minute (a forecast refits small models: not per second).
// Uses the key dashboard.js keeps in this tab's sessionStorage.
"use strict";
(function forecastCard() {
  const {el, headers} = window.shopintentCard;
  if (!el("forecast-chart")) return;
  const band = (label, color) => ({label, data: [], borderWidth: 0, pointRadius: 0, backgroundColor: color, fill: "-1"});
  const chart = new Chart(el("forecast-chart"), {
    type: "line",
    data: {labels: [], datasets: [
      {label: "95 % low", data: [], borderWidth: 0, pointRadius: 0, fill: false},
      band("95 % band", "rgba(47,111,237,.12)"),
      {label: "80 % low", data: [], borderWidth: 0, pointRadius: 0, fill: false},
      band("80 % band", "rgba(47,111,237,.25)"),
      {label: "bought", data: [], borderColor: "#333", pointRadius: 0, fill: false, tension: .2},
      {label: "forecast", data: [], borderColor: "#2f6fed", borderDash: [4, 3], pointRadius: 0, fill: false},
    ]},
    options: {animation: false, responsive: true, maintainAspectRatio: false, plugins: {legend: {labels: {boxWidth: 10, filter: (item) => !item.text.includes("low")}}},
              scales: {y: {beginAtZero: true}}},
  });
  function draw(d) {
    const past = d.history.map((p) => p.ds.slice(5, 13).replace("T", " "));
    const next = d.forecast.map((p) => p.ds.slice(5, 13).replace("T", " "));
    const pad = (values, before) => before ? [...values, ...Array(next.length).fill(null)] : [...Array(past.length - 1).fill(null), d.history[d.history.length - 1].y, ...values];
    chart.data.labels = [...past, ...next];
    const ds = chart.data.datasets;
    ds[0].data = pad(d.forecast.map((p) => p.lo_95), false);
    ds[1].data = pad(d.forecast.map((p) => p.hi_95), false);
    ds[2].data = pad(d.forecast.map((p) => p.lo_80), false);
    ds[3].data = pad(d.forecast.map((p) => p.hi_80), false);
    ds[4].data = pad(d.history.map((p) => p.y), true);
    ds[5].data = pad(d.forecast.map((p) => p.forecast), false);
    chart.update();
    el("forecast-model").textContent = d.model;
    el("forecast-mase").textContent = d.backtest_mase === null ? "–" : Number(d.backtest_mase).toFixed(2);
    el("forecast-note").textContent = "category " + d.category + ", next " + d.horizon + " hours";
  }
  async function load() {
    const category = el("forecast-category").value.trim();
    const query = new URLSearchParams({horizon: "6"});
    if (category) query.set("category", category);
    try {
      const response = await fetch("/v1/forecast?" + query.toString(), {cache: "no-store", headers: headers()});
      if (response.ok) draw(await response.json());
      else el("forecast-note").textContent = (await response.json()).detail || ("HTTP " + response.status);
    } catch (error) { /* the main dashboard reports a lost connection */ }
  }
  el("forecast-form").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
  setInterval(load, 60000);
})();
