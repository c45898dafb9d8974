"""The dashboard in headless Chromium (Debian's, driven by Playwright): charts fill, a query is parsed,
reasons read as words, the budget tile is the engine's, the icon is served."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from shopintent.behaviour.features import FEATURE_NAMES
from shopintent.behaviour.reasons import describe
from shopintent.serve import ServeConfig, create_app
from shopintent.serve.adapters.base import ModelSlot
from shopintent.serve.adapters.text import parser_model
from shopintent.serve.service import Service
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, AUTH, REPO_ROOT, serving, small_parser, taobao_records

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Running:
    url: str
    service: Service


@pytest.fixture(scope="module")
def server(model_settings: Settings) -> Iterator[Running]:
    app = create_app(model_settings, ServeConfig(store_path=":memory:", api_keys=(API_KEY,),
                                                 train_missing=False),
                     load_models=True)
    with serving(app) as url:
        service = app.state.service
        parser = small_parser(model_settings)
        service.models["text"] = ModelSlot("text", lambda: parser_model(parser))
        assert service.models["text"].load()
        deadline = time.monotonic() + 120
        while not (service.models["behaviour"].ready and service.models["intervene"].ready):
            assert time.monotonic() < deadline, "models did not load"
            time.sleep(0.1)
        yield Running(url, service)


def test_dashboard_shows_live_data_and_parses_a_query(server: Running, model_settings: Settings,
                                                       tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url = server.url
    records = taobao_records(model_settings, 4000)
    with httpx.Client(headers=AUTH, timeout=30) as client:
        for start in range(0, len(records), 400):
            assert client.post(url + "/v1/events", json={"events": records[start : start + 400]}
                               ).status_code == 200
            time.sleep(0.1)
        for text in ("where is my order", "我想退货", "what's the weather like"):
            assert client.post(url + "/v1/intent", json={"text": text}).status_code == 200
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        keyless = browser.new_page()  # a fresh page has no key: it asks for one, shows no data
        keyless.goto(url + "/")
        keyless.wait_for_selector("#key-form:not([hidden])", timeout=10_000)
        assert "API key" in keyless.locator("#status").inner_text()
        assert keyless.locator("#kpi-stored").inner_text() == "–"
        keyless.close()
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        # The read key travels in the URL fragment (never sent to the server) and leaves the
        # address bar at once; the page keeps it in sessionStorage for its requests.
        page.goto(url + "/#key=" + API_KEY)
        page.wait_for_function("Number(document.body.dataset.updates || 0) >= 2", timeout=20_000)
        assert API_KEY not in page.url
        charts = page.evaluate("""() => {
            const c = window.shopintentCharts, sum = (a) => a.reduce((x, y) => x + y, 0);
            return {rate: sum(c.rate.data.datasets[0].data), funnel: c.funnel.data.datasets[0].data,
                    intents: c.intents.data.datasets.length, decisions: sum(c.decisions.data.datasets[0].data),
                    canvases: [...document.querySelectorAll('canvas')].map(e => e.width * e.height)};
        }""")
        assert charts["rate"] == 4000
        assert charts["funnel"][0] > charts["funnel"][1] > charts["funnel"][2] > 0
        assert charts["intents"] >= 2 and charts["decisions"] > 0
        assert all(area > 0 for area in charts["canvases"])
        assert page.locator("#sessions tbody tr").count() == 15
        assert page.locator("#kpi-stored").inner_text() == "4,000"
        data = httpx.get(url + "/v1/dashboard", headers=AUTH, timeout=30).json()

        # Reasons are said in words with their direction: the words the JSON carries, which are
        # behaviour.reasons' words for each feature, value and push.
        shown = page.locator("#sessions tbody td.reasons").all_inner_texts()
        assert shown == [" · ".join(r["text"] for r in s["scores"]["reasons"]) for s in data["sessions"]]
        assert sum(bool(cell) for cell in shown) >= 10
        for session in data["sessions"]:
            for reason in session["scores"]["reasons"]:
                assert reason["text"] == describe(reason) and reason["text"][-1] in "↑↓"
        assert not [name for name in FEATURE_NAMES if "_" in name and name in " ".join(shown)]

        # The risk panel shows the service's own risk counts (no risk model prepared here: it says so).
        assert page.locator("#risk-held").inner_text() == f"{data['risk']['held']:,}"
        assert "risk model not loaded" in page.locator("#risk-note").inner_text()

        # The budget tile is the engine's own daily budget and what it reserved on the stream's day.
        engine = server.service.models["intervene"].get()
        daily = engine.ledger.config.daily_budget
        day = datetime.fromtimestamp(server.service.state.clock(), UTC).date()
        spent = round(engine.ledger.spent.get(day, 0.0), 2)
        assert data["budget"] == {"daily": daily, "day": day.isoformat(), "spent": spent}
        assert page.locator("#kpi-spend").inner_text() == f"{spent:,.2f} / {daily:,.0f}"
        assert page.locator("#kpi-spend-day").inner_text() == f"day {day.isoformat()} (UTC)"

        # The event-type chart says what it counts: sessions with at least one event of each type.
        assert page.evaluate("() => window.shopintentCharts.funnel.data.labels") == [
            "with a view", "with an add to cart", "with a purchase"]
        assert "at least one event of each type" in page.locator("h2", has_text="event type").inner_text()

        # The page names its icon, and the icon (like the page) is served without a key.
        icon = page.locator("link[rel=icon]").get_attribute("href")
        for path in (icon, "/favicon.ico"):
            response = httpx.get(urljoin(url, path), timeout=10)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("image/svg+xml")
            assert response.text.lstrip().startswith("<svg")
        page.fill("#query-text", "I want a refund for my order")
        page.click("#query-form button")
        page.wait_for_selector("#query-intent", timeout=10_000)
        assert page.locator("#query-intent").inner_text() == "get_refund"
        assert "en" in page.locator("#query-result").inner_text()
        models = page.locator("#models").inner_text()
        assert "behaviour" in models and "loaded" in models
        # The docs' screenshot is refreshed on request only: a test run leaves the checkout as it found it.
        shot = (REPO_ROOT / "docs" / "dashboard.png" if os.environ.get("SHOPINTENT_UPDATE_SCREENSHOT") == "1"
                else tmp_path / "dashboard.png")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000  # a rendered page, not an empty frame
        browser.close()
