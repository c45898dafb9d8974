// shopintent dashboard, assistant card: polls /v1/assist/live every two seconds and draws the
// conversations the customer-service assistant holds (answer rate, hand-overs by reason, the
// latest sessions). Uses the key dashboard.js keeps in this tab's sessionStorage; no shopper text
// ever reaches this card (the endpoint returns intents, flows and reasons only).
"use strict";
(function assistCard() {
  const {el, num, pct, headers, cell} = window.shopintentCard;
  function draw(d) {
    el("assist-messages").textContent = num(d.messages);
    el("assist-live").textContent = num(d.live_conversations);
    el("assist-answer-rate").textContent = pct(d.answer_rate);
    el("assist-escalated").textContent = num(d.escalated) + (d.messages ? " (" + pct(d.escalation_rate) + ")" : "");
    const reasons = el("assist-reasons"); reasons.replaceChildren();
    for (const [reason, count] of Object.entries(d.reasons)) {
      const li = document.createElement("li"); li.textContent = reason + " (" + num(count) + ")"; reasons.appendChild(li);
    }
    const rows = el("assist-conversations").querySelector("tbody"); rows.replaceChildren();
    for (const c of d.conversations) {
      const tr = document.createElement("tr");
      tr.append(cell(String(c.session_id).slice(0, 14)), cell(num(c.turns)), cell(c.intent || "–"),
                cell(c.flow || "–"), cell(c.escalated ? "person: " + c.reason : "answered"));
      rows.appendChild(tr);
    }
    el("assist-note").textContent = d.messages ? "" : "no messages yet (POST /v1/assist)";
  }
  async function poll() {
    try {
      const response = await fetch("/v1/assist/live", {cache: "no-store", headers: headers()});
      if (response.ok) draw(await response.json());
    } catch (error) { /* the main dashboard reports a lost connection */ }
  }
  poll();
  setInterval(poll, 2000);
})();
