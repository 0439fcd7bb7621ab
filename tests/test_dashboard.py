"""The dashboard page at /__mock/: its headers over HTTP, then the page itself in headless Chromium
against a real server process (one browser for the module)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import shlex
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestClient

from mockserver.dashboard import PAGE_FILE, build_page, page

from .helpers import MESH_AUTH, PORTFOLIO, MakeClient, running_server

TREASURE_CLIENT = {"client_id": "mock-treasure-client", "client_secret": "mock-treasure-secret"}

CHROMIUM = next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1024",
)
TOKEN = "dashboard-test-token"
WAIT = 8.0  # seconds: the page refreshes its journal every 2


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# --- the page over HTTP ---


async def test_the_page_is_self_contained_html_with_a_strict_policy(client: TestClient) -> None:
    response = await client.get("/__mock/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = await response.text()
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "require-trusted-types-for" in policy
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert len(scripts) == 1 and len(styles) == 1
    assert policy["script-src"] == _hash(scripts[0])  # the inline script, by hash: no 'unsafe-inline'
    assert policy["style-src"] == _hash(styles[0])
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    # no external asset of any kind: no URL with a scheme or host, no src= at all, no imports
    assert not re.search(r"(?i)\b(?:https?|wss?|ftp):/", html)
    assert not re.search(r"(?i)[\"'(]//", html)
    assert not re.search(r"(?i)<(?:script|img|iframe|link)[^>]*\ssrc=", html)
    assert [href for href in re.findall(r'(?i)\shref="([^"]*)"', html) if not href.startswith(("#", "data:"))] == []
    assert "@import" not in html and "url(" not in html


async def test_the_page_answers_head_and_the_bare_prefix_redirects_to_it(client: TestClient) -> None:
    assert (await client.head("/__mock/")).status == 200
    redirect = await client.get("/__mock?token=abc", allow_redirects=False)
    assert redirect.status == 302
    assert redirect.headers["Location"] == "/__mock/?token=abc"
    assert (await client.get("/__mock", allow_redirects=False)).headers["Location"] == "/__mock/"


async def test_with_a_control_token_the_page_takes_it_from_its_url_and_nothing_else_does(make_client: MakeClient) -> None:
    client = await make_client(control_token=TOKEN)
    assert (await client.get("/__mock/")).status == 401
    assert (await client.get("/__mock/?token=wrong")).status == 401
    assert (await client.get(f"/__mock/?token={TOKEN}")).status == 200
    assert (await client.get(f"/__mock/apis?token={TOKEN}")).status == 401  # the query token is for the page alone
    assert (await client.get("/__mock/requests", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200


def test_the_policy_hashes_whatever_the_page_inlines() -> None:
    built = build_page("<style>a{}</style><script>go()</script>")
    policy = built.headers["Content-Security-Policy"]
    assert f"script-src {_hash('go()')}" in policy and f"style-src {_hash('a{}')}" in policy
    with pytest.raises(ValueError, match=PAGE_FILE):
        build_page("<p>no script</p>")
    assert page() is page()  # read once


# --- the page in a browser ---


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.TemporaryDirectory(prefix="mockserver-chromium-")
    options.add_argument(f"--user-data-dir={profile.name}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)  # no Selenium Manager: no network
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


@pytest.fixture(scope="module")
def token_server() -> Iterator[str]:
    with running_server("--control-token", TOKEN) as base:
        yield base


def _wait(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition, message=f"the dashboard never showed {what}")


def _open(driver: Any, url: str) -> None:
    from selenium.common.exceptions import TimeoutException

    driver.get(url)
    try:
        _wait(driver, lambda d: d.execute_script("return document.body.dataset.loaded === 'apis'"), "its APIs")
    except TimeoutException:
        shown = driver.execute_script("return document.getElementById('errors').textContent")
        pytest.fail(f"the dashboard at {url} never showed its APIs; it says: {shown!r}")


def _requests_text(driver: Any) -> str:
    return driver.execute_script("return Array.from(document.querySelectorAll('#requests tbody'), (entry) => entry.textContent).join('')")


def _click(driver: Any, element: Any) -> None:
    """A click on `element` once it is in the middle of the window (the page's header sticks to its top)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _details(row: Any) -> Any:
    """The entry of a journal row with its details shown (they span the table's width, below the row)."""
    from selenium.webdriver.common.by import By

    entry = row.find_element(By.XPATH, "./ancestor::tbody[1]")
    if "hidden" in entry.find_element(By.CSS_SELECTOR, "tr.detail").get_attribute("class"):
        _click(row.parent, row.find_element(By.CSS_SELECTOR, "button.toggle-detail"))
    return entry


def _row_with(driver: Any, marker: str) -> Any:
    from selenium.webdriver.common.by import By

    def find(d: Any) -> Any:
        return next((row for row in d.find_elements(By.CSS_SELECTOR, "#requests tbody tr") if marker in row.text), False)

    return _wait(driver, find, f"the request {marker!r}")


def test_the_page_lists_every_api_with_its_base_url_credentials_and_curl_lines(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    catalog = requests.get(f"{server}/__mock/apis", timeout=10).json()["apis"]
    mounted = requests.get(f"{server}/__mock/health", timeout=10).json()["apis"]
    assert sorted(api["name"] for api in catalog) == sorted(mounted)
    _open(browser, f"{server}/__mock/")
    for api in catalog:
        row = browser.find_element(By.CSS_SELECTOR, f'#apis tr[data-api="{api["name"]}"]')
        assert api["baseUrl"] in row.find_element(By.CSS_SELECTOR, ".base-url").text
        for line in api["credentials"]:
            assert line in row.find_element(By.CSS_SELECTOR, ".credentials").text
        section = browser.find_element(By.CSS_SELECTOR, f'section.api[data-api="{api["name"]}"]')
        assert len(section.find_elements(By.CSS_SELECTOR, ".op pre.curl")) == len(api["operations"])
        for known in api["wellKnown"]:
            assert known["try"] in section.find_element(By.CSS_SELECTOR, ".well-known").text
    omniex = browser.find_element(By.CSS_SELECTOR, 'section.api[data-api="omniex"]')
    assert "cannot be pre-signed" in omniex.find_element(By.CSS_SELECTOR, ".note.signed").text
    problems = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert problems == []  # no CSP violation, no failed load, no script error


def test_the_mesh_curl_line_works_as_shown(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, f"{server}/__mock/")
    line = browser.find_element(
        By.CSS_SELECTOR, 'section.api[data-api="mesh"] .op[data-operation="GET /api/v1/holdings/portfolio"] pre.curl'
    )
    words = shlex.split(line.text)
    assert words[0] == "curl"
    method, headers, url = "GET", {}, words[-1]
    for flag, value in itertools.pairwise(words):
        if flag == "-X":
            method = value
        elif flag == "-H":
            name, _, given = value.partition(":")
            headers[name] = given.strip()
    assert url.startswith(f"{server}{PORTFOLIO}?UserId=")
    assert headers == MESH_AUTH
    response = requests.request(method, url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


def test_a_new_request_shows_up_without_reload_with_its_secrets_redacted(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, f"{server}/__mock/")
    browser.execute_script("window.__notReloaded = true")
    marker = f"dash-{uuid.uuid4().hex[:8]}"
    answer = requests.get(
        f"{server}{PORTFOLIO}", params={"UserId": marker}, headers={**MESH_AUTH, "Authorization": "Bearer sk_live_x"}, timeout=10
    )
    row = _row_with(browser, marker)
    assert browser.execute_script("return window.__notReloaded === true")
    assert "GET" in row.text and PORTFOLIO in row.text and str(answer.status_code) in row.text
    entry = _details(row)
    headers = entry.find_element(By.CSS_SELECTOR, "pre.headers").text
    assert "X-Client-Secret: <redacted>" in headers and "Authorization: <redacted>" in headers
    assert "X-Client-Id: <redacted>" in headers
    table = _requests_text(browser)
    assert MESH_AUTH["X-Client-Secret"] not in table and "sk_live_x" not in table
    # the next refreshes keep the row (and its open details) in place
    later = f"dash-{uuid.uuid4().hex[:8]}"
    requests.get(f"{server}{PORTFOLIO}", params={"UserId": later}, headers=MESH_AUTH, timeout=10)
    _row_with(browser, later)
    assert "hidden" not in entry.find_element(By.CSS_SELECTOR, "tr.detail").get_attribute("class")


def test_markup_in_a_request_renders_as_text(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, f"{server}/__mock/")
    path = "/mesh/<img src=x onerror=window.__xss=1>"
    header = "<script>window.__xss=2</script><b>bold</b>"
    requests.get(f"{server}{path}", params={"q": "<svg onload=window.__xss=3>"}, headers={"X-Note": header}, timeout=10)
    row = _row_with(browser, "onerror=window.__xss=1")
    assert path in row.find_element(By.CSS_SELECTOR, "td.path").text
    assert "<svg onload=window.__xss=3>" in row.find_element(By.CSS_SELECTOR, "td.path").text
    assert f"X-Note: {header}" in _details(row).find_element(By.CSS_SELECTOR, "pre.headers").text
    assert browser.find_elements(By.CSS_SELECTOR, "#requests img, #requests script, #requests svg, #requests b") == []
    assert browser.execute_script("return window.__xss") is None


def test_the_buttons_clear_the_journal_and_reset_the_state(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    _open(browser, f"{server}/__mock/")
    marker = f"dash-{uuid.uuid4().hex[:8]}"
    requests.get(f"{server}{PORTFOLIO}", params={"UserId": marker}, headers=MESH_AUTH, timeout=10)
    _row_with(browser, marker)
    browser.find_element(By.ID, "clear-journal").click()
    _wait(browser, lambda d: _requests_text(d) == "", "an empty journal")
    assert requests.get(f"{server}/__mock/requests", timeout=10).json()["total"] == 0

    assert requests.post(f"{server}/__mock/faults", json={"api": "mesh", "status": 503, "count": 5}, timeout=10).status_code == 201
    requests.get(f"{server}{PORTFOLIO}", params={"UserId": marker}, headers=MESH_AUTH, timeout=10)
    _row_with(browser, marker)
    browser.find_element(By.ID, "reset-state").click()
    _wait(browser, expected_conditions.alert_is_present(), "its confirmation")
    browser.switch_to.alert.accept()
    _wait(browser, lambda d: "state reset" in d.find_element(By.ID, "action").text, "that the state was reset")
    assert requests.get(f"{server}/__mock/faults", timeout=10).json()["faults"] == []
    assert requests.get(f"{server}/__mock/requests", timeout=10).json()["total"] == 0


def test_with_a_control_token_the_page_uses_the_token_from_its_url(browser: Any, token_server: str) -> None:
    from selenium.webdriver.common.by import By

    assert requests.get(f"{token_server}/__mock/", timeout=10).status_code == 401
    assert requests.get(f"{token_server}/__mock/apis", timeout=10).status_code == 401
    assert requests.get(f"{token_server}/__mock/requests", timeout=10).status_code == 401
    _open(browser, f"{token_server}/__mock?token={TOKEN}")  # the bare prefix redirects, keeping the token
    assert browser.find_elements(By.CSS_SELECTOR, '#apis tr[data-api="mesh"]')
    marker = f"dash-{uuid.uuid4().hex[:8]}"
    requests.get(f"{token_server}{PORTFOLIO}", params={"UserId": marker}, headers=MESH_AUTH, timeout=10)
    _row_with(browser, marker)
    assert browser.find_element(By.ID, "errors").text == ""
    assert "MOCK_CONTROL_TOKEN" in browser.find_element(By.ID, "control-lines").text
    assert TOKEN not in browser.find_element(By.TAG_NAME, "body").text


async def test_under_a_session_the_page_and_its_redirect_keep_the_prefix(client: TestClient) -> None:
    assert (await client.post("/__mock/sessions", json={"id": "dash"}, headers={"Content-Type": "application/json"})).status == 201
    page = await client.get("/__session/dash/__mock/")
    assert page.status == 200 and page.content_type == "text/html"
    redirect = await client.get("/__session/dash/__mock?token=x", allow_redirects=False)
    assert redirect.status == 302 and redirect.headers["Location"] == "/__session/dash/__mock/?token=x"


def test_a_sessions_page_shows_its_journal_clock_and_scenario(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    session = f"dash-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{server}/__mock/sessions", json={"id": session}, timeout=10).status_code == 201
    base = f"{server}/__session/{session}"
    user = {"userId": "shaped", "accountType": "exchange", "positions": [{"symbol": "BTC", "amount": 1, "costBasis": 100}]}
    assert requests.post(f"{base}/__mock/scenarios", json={"mesh": {"users": [user]}}, timeout=10).status_code == 201
    _open(browser, f"{base}/__mock/")
    assert browser.find_element(By.ID, "sandbox").text.startswith(f"session {session}")
    _wait(browser, lambda d: '"shaped"' in d.find_element(By.ID, "scenario-json").text, "the session's scenario")
    requests.get(f"{base}{PORTFOLIO}", params={"UserId": "in-the-session"}, headers=MESH_AUTH, timeout=10)
    requests.get(f"{server}{PORTFOLIO}", params={"UserId": "in-the-default-one"}, headers=MESH_AUTH, timeout=10)
    _row_with(browser, "in-the-session")
    assert "in-the-default-one" not in _requests_text(browser)
    before = browser.find_element(By.ID, "clock-now").text
    browser.find_element(By.CSS_SELECTOR, '[data-advance="86400"]').click()
    _wait(browser, lambda d: d.find_element(By.ID, "clock-now").text not in ("", before), "the clock a day later")
    assert requests.get(f"{server}/__mock/clock", timeout=10).json()["now"] in before  # the default clock did not move
    _open(browser, f"{server}/__mock/")
    _wait(browser, lambda d: session in d.find_element(By.ID, "sessions-table").text, "the session in the list")


def test_the_journal_shows_each_answers_body_with_a_token_redacted(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, f"{server}/__mock/")
    issued = requests.post(f"{server}/treasure/v1/oauth/token", json=TREASURE_CLIENT, timeout=10)
    assert issued.status_code == 200
    token = issued.json()["access_token"]
    row = _row_with(browser, "createAccessToken")
    answer = _details(row).find_element(By.CSS_SELECTOR, "pre.answer").text
    assert '"access_token": "<redacted>"' in answer and '"expires_in"' in answer
    assert token not in browser.find_element(By.TAG_NAME, "body").text
    kept = requests.get(f"{server}/__mock/requests", params={"operation": "createAccessToken", "limit": "1"}, timeout=10).json()
    assert kept["requests"][0]["responseBody"]["access_token"] == "<redacted>"
    assert kept["requests"][0]["responseType"].startswith("application/json")


TRY_ONE_OF_EACH = {
    "bitcain": "get_portfolio",
    "bitpanda": "graphql",
    "mesh": "GET /api/v1/holdings/portfolio",
    "omniex": "getPortfolio",  # signed in the page with WebCrypto
    "treasure": "getPortfolioHistory",
}


def test_try_it_answers_2xx_for_an_operation_of_each_api(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, f"{server}/__mock/")
    for api, operation in TRY_ONE_OF_EACH.items():
        op = browser.find_element(By.CSS_SELECTOR, f'section.api[data-api="{api}"] .op[data-operation="{operation}"]')
        _click(browser, op.find_element(By.CSS_SELECTOR, "button.try"))
        status = _wait(browser, lambda d, op=op: op.find_element(By.CSS_SELECTOR, ".try-result").text.split(" ")[0].isdigit() and op, api)
        result = status.find_element(By.CSS_SELECTOR, ".try-result")
        assert result.text.startswith("2"), f"{api} {operation}: {result.text[:500]}"
        assert result.find_element(By.CSS_SELECTOR, "pre.body").text.strip().startswith(("{", "["))
    tried = requests.get(f"{server}/__mock/requests", params={"limit": "5"}, timeout=10).json()["requests"]
    assert sorted(entry["api"] for entry in tried) == sorted(TRY_ONE_OF_EACH)
    assert all(200 <= entry["status"] < 300 for entry in tried)


OVERFLOWING = """
const width = window.innerWidth, found = [];
for (const element of document.querySelectorAll("body *")) {
  const box = element.getBoundingClientRect();
  if (!box.width) continue;  // not rendered
  if (box.left < -0.5 || box.right > width + 0.5) found.push("outside the viewport: " + element.tagName + "." + element.className);
  if (element.scrollWidth > element.clientWidth + 1 && element.clientWidth) found.push("scrolls sideways: " + element.tagName + "." + element.className);
}
return [document.documentElement.scrollWidth, found.slice(0, 20)];
"""


@pytest.mark.parametrize("width", [420, 1600])
def test_nothing_overflows_from_420_px_to_wide(browser: Any, server: str, width: int) -> None:
    from selenium.webdriver.common.by import By

    long_path = "/mesh/" + "a-long-path-segment-" * 20
    requests.get(f"{server}{long_path}", params={"q": "x" * 300}, headers={"X-Long": "y" * 400}, timeout=10)
    browser.set_window_size(width, 900)
    try:
        _open(browser, f"{server}/__mock/")
        _details(_row_with(browser, "a-long-path-segment"))
        op = browser.find_element(By.CSS_SELECTOR, 'section.api[data-api="omniex"] .op[data-operation="getPortfolios"]')
        _click(browser, op.find_element(By.CSS_SELECTOR, "button.try"))
        _wait(browser, lambda d: op.find_element(By.CSS_SELECTOR, ".try-status").text.startswith("200"), "the answer of Try it")
        inner = browser.execute_script("return window.innerWidth")
        scroll_width, overflowing = browser.execute_script(OVERFLOWING)
        assert scroll_width <= inner and overflowing == []
        sticky = browser.execute_script("return getComputedStyle(document.querySelector('#requests thead th')).position")
        assert sticky == "sticky"
    finally:
        browser.set_window_size(1280, 1024)
