// shopintent dashboard, fairness card: polls /v1/fairness/live every five seconds and draws the
// intervention rate of each shopper segment since start, the largest gap between segments with
// enough decisions, and a flag when that gap is past the configured bound
// (SHOPINTENT_FAIRNESS_GAP_BOUND). Uses the key dashboard.js keeps in this tab's sessionStorage.
"use strict";
(function fairnessCard() {
  const {el, num, pct, headers, cell} = window.shopintentCard;
  function draw(d) {
    el("fairness-gap").textContent = pct(d.gap);
    el("fairness-bound").textContent = pct(d.bound);
    const flag = el("fairness-flag");
    flag.textContent = d.flagged ? "gap past the bound" : (d.gap === null ? "not enough decisions yet" : "within the bound");
    flag.className = d.flagged ? "" : "muted";
    flag.style.color = d.flagged ? "#b00020" : "";
    flag.style.fontWeight = d.flagged ? "600" : "";
    const rows = el("fairness-groups").querySelector("tbody"); rows.replaceChildren();
    for (const g of d.groups) {
      const tr = document.createElement("tr");
      tr.append(cell(g.group), cell(num(g.decisions)), cell(num(g.interventions)), cell(pct(g.rate)));
      rows.appendChild(tr);
    }
    el("fairness-note").textContent = d.groups.length ? "groups with fewer than " + d.min_decisions +
      " decisions are shown but left out of the gap" : "no decisions yet";
  }
  async function poll() {
    try {
      const response = await fetch("/v1/fairness/live", {cache: "no-store", headers: headers()});
      if (response.ok) draw(await response.json());
    } catch (error) { /* the main dashboard reports a lost connection */ }
  }
  poll();
  setInterval(poll, 5000);
})();
