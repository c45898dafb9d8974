"""The API docs work offline: /docs and /redoc in headless Chromium with only loopback reachable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest

from shopintent.serve import ServeConfig, create_app
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, make_client, serving
from tests.serve.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

#: Operations both pages must show (method, path template), one per router and the open ones.
OPERATIONS = [("POST", "/v1/events"), ("GET", "/v1/sessions/{session_id}"), ("GET", "/v1/sessions"),
              ("POST", "/v1/intent"), ("GET", "/v1/recommendations"), ("POST", "/v1/decisions"),
              ("POST", "/v1/outcomes"), ("GET", "/v1/dashboard"), ("GET", "/healthz"),
              ("GET", "/metrics")]
#: The one off-site resource a page asks for: ReDoc's sidebar logo, which the page's
#: Content-Security-Policy stops inside the browser (no connection is made; the image hides).
CSP_BLOCKED = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _is_local(url: str) -> bool:
    parsed = urlparse(url.removeprefix("blob:"))
    return parsed.scheme == "data" or parsed.hostname in LOOPBACK


@dataclass
class Traffic:
    """What the pages asked for: requests sent to the network, and what the browser stopped."""

    off_site: list[str] = field(default_factory=list)  # reached the network layer; aborted here
    failed: dict[str, str] = field(default_factory=dict)  # url -> Chromium's failure text
    requested: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(session_settings: Settings) -> Iterator[str]:
    # No models: the docs describe the API and need none, so the page tests stay fast.
    app = create_app(session_settings, ServeConfig(store_path=":memory:", api_keys=(API_KEY,),
                                                   train_missing=False), load_models=False)
    with serving(app, timeout_s=30) as url:
        yield url


@pytest.fixture(scope="module")
def browser_context(server: str) -> Iterator[tuple[BrowserContext, Traffic]]:
    """A Chromium context where every request to a host other than loopback is aborted."""
    from playwright.sync_api import Route, sync_playwright

    traffic = Traffic()

    def only_loopback(route: Route) -> None:
        if _is_local(route.request.url):
            route.continue_()
        else:
            traffic.off_site.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.route("**/*", only_loopback)
        context.on("request", lambda r: traffic.requested.append(r.url))
        context.on("requestfailed", lambda r: traffic.failed.update({r.url: r.failure or ""}))
        context.add_init_script(
            "window.cspViolations = []; document.addEventListener('securitypolicyviolation',"
            " e => window.cspViolations.push(e.blockedURI));")
        yield context, traffic
        browser.close()


def _assert_offline(traffic: Traffic, violations: list[str]) -> None:
    assert traffic.off_site == [], f"the page tried to reach other hosts: {traffic.off_site}"
    elsewhere = {u for u in traffic.requested if not _is_local(u)}
    assert elsewhere <= CSP_BLOCKED, f"unexpected off-site requests: {elsewhere - CSP_BLOCKED}"
    for url in elsewhere:  # stopped by the policy inside the browser, before any connection
        assert traffic.failed.get(url) == "csp", (url, traffic.failed.get(url))
    assert set(violations) <= CSP_BLOCKED, violations


def test_docs_and_redoc_html_name_no_off_site_asset(settings: Settings) -> None:
    with make_client(settings) as client:
        for path in ("/docs", "/redoc"):
            page = client.get(path)
            assert page.status_code == 200
            urls = re.findall(r"""https?://[^\s"'<>)]+""", page.text)
            assert [u for u in urls if not _is_local(u)] == [], f"{path} links off site: {urls}"
            header = page.headers["content-security-policy"]
            policy = dict(d.strip().split(" ", 1) for d in header.split(";"))
            assert policy["default-src"] == "'self'" and policy["connect-src"] == "'self'"
            # The page's inline script is allowed by its hash only.
            assert "'unsafe-inline'" not in policy["script-src"]
            assets = re.findall(r"""(?:src|href)="([^"]+)\"""", page.text)
            assert any(a.endswith(".js") for a in assets), f"{path} loads no script: {assets}"
            for asset in assets:  # every file the page loads comes from the package itself
                assert asset.startswith("/static/vendor/"), asset
                assert client.get(asset).status_code == 200, asset
        assert client.get("/docs/oauth2-redirect").status_code == 404  # no OAuth flow is offered


def test_swagger_ui_shows_every_operation_and_authorize_sends_the_key(
        server: str, browser_context: tuple[BrowserContext, Traffic]) -> None:
    context, traffic = browser_context
    page = context.new_page()
    sent_keys: list[str | None] = []
    page.on("request", lambda r: sent_keys.append(r.headers.get("x-api-key"))
            if r.url.startswith(server + "/v1/sessions?") else None)
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    shown = page.evaluate("""() => [...document.querySelectorAll('.opblock')].map(e =>
        e.querySelector('.opblock-summary-method').textContent + ' ' +
        e.querySelector('.opblock-summary-path').dataset.path)""")
    for method, path in OPERATIONS:
        assert f"{method} {path}" in shown, f"{method} {path} missing from /docs: {shown}"
    assert page.locator("#swagger-ui .info .title").inner_text().startswith("shopintent")

    # Try GET /v1/sessions without a key (401), then with the key given to "Authorize" (200).
    block = "#operations-sessions-list_sessions_v1_sessions_get"
    answered = ("code => document.querySelector('" + block + " .live-responses-table tbody "
                ".response-col_status')?.textContent.trim() === code")
    operation = page.locator(block)
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    page.wait_for_function(answered, arg="401", timeout=10_000)
    page.locator(".auth-wrapper .authorize").click()
    dialog = page.locator(".dialog-ux")
    assert "X-API-Key" in dialog.inner_text()
    dialog.locator("input").fill(API_KEY)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done").click()
    operation.locator(".execute").click()
    page.wait_for_function(answered, arg="200", timeout=10_000)
    assert sent_keys == [None, API_KEY]
    _assert_offline(traffic, page.evaluate("window.cspViolations"))
    page.close()


def test_redoc_shows_every_operation_offline(
        server: str, browser_context: tuple[BrowserContext, Traffic]) -> None:
    context, traffic = browser_context
    page = context.new_page()
    page.goto(server + "/redoc")
    page.wait_for_selector(".http-verb", timeout=20_000)
    shown = page.evaluate("""() => [...document.querySelectorAll('.http-verb')].map(e =>
        e.textContent.toUpperCase() + ' ' + e.nextElementSibling.textContent)""")
    for method, path in OPERATIONS:
        assert f"{method} {path}" in shown, f"{method} {path} missing from /redoc: {shown}"
    assert "X-API-Key" in page.inner_text("body")
    _assert_offline(traffic, page.evaluate("window.cspViolations"))
    page.close()
