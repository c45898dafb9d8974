// shopintent dashboard: the helpers every card script shares (assist.js, fairness.js,
// forecast.js, multimodal.js). Loaded after dashboard.js, which keeps the API key in this
// tab's sessionStorage, and before the cards.
"use strict";
window.shopintentCard = (function cardHelpers() {
  const KEY_ITEM = "shopintent.apiKey";
  const el = (id) => document.getElementById(id);
  const num = (x, d = 0) => (x === null || x === undefined) ? "–" : Number(x).toLocaleString(undefined, {maximumFractionDigits: d, minimumFractionDigits: d});
  const pct = (x) => (x === null || x === undefined) ? "–" : num(100 * x, 1) + " %";
  function headers() {
    const key = sessionStorage.getItem(KEY_ITEM);
    return key ? {"X-API-Key": key} : {};
  }
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  return Object.freeze({el, num, pct, headers, cell});
})();
