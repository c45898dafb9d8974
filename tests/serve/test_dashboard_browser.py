"""The dashboard in headless Chromium (Debian's, driven by Playwright): charts fill, a query is parsed."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from shopintent.serve import ServeConfig, create_app
from shopintent.serve.adapters.base import ModelSlot
from shopintent.serve.adapters.text import parser_model
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, AUTH, REPO_ROOT, free_port, small_parser, taobao_records

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(model_settings: Settings) -> Iterator[str]:
    app = create_app(model_settings, ServeConfig(store_path=":memory:", api_keys=(API_KEY,),
                                                 train_missing=False),
                     load_models=True)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                       access_log=False))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.1)
    service = app.state.service
    parser = small_parser(model_settings)
    service.models["text"] = ModelSlot("text", lambda: parser_model(parser))
    assert service.models["text"].load()
    while not (service.models["behaviour"].ready and service.models["intervene"].ready):
        assert time.monotonic() < deadline + 60, "models did not load"
        time.sleep(0.1)
    yield url
    uv.should_exit = True
    thread.join(timeout=15)


def test_dashboard_shows_live_data_and_parses_a_query(server: str, model_settings: Settings) -> None:
    from playwright.sync_api import sync_playwright

    records = taobao_records(model_settings, 4000)
    with httpx.Client(headers=AUTH, timeout=30) as client:
        for start in range(0, len(records), 400):
            assert client.post(server + "/v1/events", json={"events": records[start : start + 400]}
                               ).status_code == 200
            time.sleep(0.1)
        for text in ("where is my order", "我想退货", "what's the weather like"):
            assert client.post(server + "/v1/intent", json={"text": text}).status_code == 200
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        keyless = browser.new_page()  # a fresh page has no key: it asks for one, shows no data
        keyless.goto(server + "/")
        keyless.wait_for_selector("#key-form:not([hidden])", timeout=10_000)
        assert "API key" in keyless.locator("#status").inner_text()
        assert keyless.locator("#kpi-stored").inner_text() == "–"
        keyless.close()
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        # The read key travels in the URL fragment (never sent to the server) and leaves the
        # address bar at once; the page keeps it in sessionStorage for its requests.
        page.goto(server + "/#key=" + API_KEY)
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
        page.fill("#query-text", "I want a refund for my order")
        page.click("#query-form button")
        page.wait_for_selector("#query-intent", timeout=10_000)
        assert page.locator("#query-intent").inner_text() == "get_refund"
        assert "en" in page.locator("#query-result").inner_text()
        models = page.locator("#models").inner_text()
        assert "behaviour" in models and "loaded" in models
        page.screenshot(path=str(REPO_ROOT / "docs" / "dashboard.png"), full_page=True)
        browser.close()
