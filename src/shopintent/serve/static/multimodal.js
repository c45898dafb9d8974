// shopintent dashboard, product search card: a zh/en text box over GET /v1/search, results drawn as
// the products' photos (fetched from GET /v1/products/{id}/image with the tab's API key) with title and
// cosine score. Titles are shown as text, never as markup.
"use strict";
(function productSearchCard() {
  const {el, headers} = window.shopintentCard;
  async function photo(id) {
    const response = await fetch("/v1/products/" + encodeURIComponent(id) + "/image", {headers: headers()});
    return response.ok ? URL.createObjectURL(await response.blob()) : null;
  }
  async function search(event) {
    event.preventDefault();
    const q = el("product-search-text").value.trim();
    const out = el("product-search-results");
    if (!q) return;
    out.replaceChildren();
    el("product-search-note").textContent = "searching…";
    try {
      const response = await fetch("/v1/search?k=8&q=" + encodeURIComponent(q), {headers: headers()});
      const body = await response.json();
      if (!response.ok) { el("product-search-note").textContent = body.detail || response.statusText; return; }
      el("product-search-note").textContent = body.results.length ? "" : "no products indexed";
      for (const hit of body.results) {
        const figure = document.createElement("figure");
        const img = document.createElement("img");
        img.alt = hit.title; img.width = 96; img.height = 96;
        const caption = document.createElement("figcaption");
        caption.textContent = hit.title + " (" + Number(hit.score).toFixed(3) + ")";
        figure.append(img, caption); out.appendChild(figure);
        photo(hit.id).then((url) => { if (url) img.src = url; });
      }
    } catch (error) { el("product-search-note").textContent = "search failed"; }
  }
  const form = el("product-search-form");
  if (form) form.addEventListener("submit", search);
})();
