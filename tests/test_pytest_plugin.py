"""The pytest plugin (`mockserver.pytest_plugin`, entry point `pytest11`), as a user's test
suite sees it: every case runs pytest in a subprocess on a small project of its own, which
loads the plugin through the installed entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import ROOT, running_server

pytest_plugins = ["pytester"]

TIMEOUT = 180
# shared by the inner test files: a GET with Mesh's credentials, and the portfolio path
HELPERS = """
import json, threading, urllib.error, urllib.request

import pytest

PORTFOLIO = "/api/v1/holdings/portfolio"


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def portfolio(mockserver, user="alice"):
    auth = mockserver.credentials("mesh")
    return get(mockserver.url("mesh") + PORTFOLIO + "?UserId=" + user, auth["headers"])


def servers_running():
    return sum(1 for thread in threading.enumerate() if thread.name == "mockserver")
"""


@pytest.fixture(autouse=True)
def _no_outer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner runs see only the options each test gives them."""
    for name in ("MOCKSERVER_URL", "MOCKSERVER_CONTROL_TOKEN", "PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mesh_only(tmp_path: Path) -> Path:
    """A specs folder with Mesh alone: quick to load, and independent of the other APIs."""
    folder = tmp_path / "mesh-specs"
    folder.mkdir()
    shutil.copy(ROOT / "specs" / "mesh.yaml", folder)
    return folder


@pytest.fixture
def project(pytester: pytest.Pytester, mesh_only: Path) -> pytest.Pytester:
    """A user's project whose ini points the in-process server at the Mesh-only specs."""
    pytester.makeini(f"[pytest]\nmockserver_specs = {mesh_only}\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(helpers=HELPERS)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """In this process (quick: nothing to import again); the inner session still loads the
    plugin through its entry point, as every pytest session does."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rA", *args)


def run_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A fresh interpreter, as a user's `pytest` command."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=TIMEOUT)


def test_the_entry_point_registers_the_options(pytester: pytest.Pytester) -> None:
    result = run_subprocess(pytester, "--help")
    assert result.ret == 0
    for option in ("--mockserver-scope", "--mockserver-url", "--mockserver-control-token", "--mockserver-seed", "--mockserver-specs"):
        result.stdout.fnmatch_lines([f"*{option}*"])


def test_runs_that_do_not_use_the_fixture_start_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_plain(request):
            assert request.config.pluginmanager.has_plugin("mockserver")
            assert "mockserver.app" not in sys.modules  # the server is loaded only when asked for
        """
    )
    run_subprocess(pytester).assert_outcomes(passed=1)


def test_the_fixture_serves_verifies_resets_and_injects_faults(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_basics="""
        import pytest
        from helpers import PORTFOLIO, get, portfolio, servers_running


        def test_portfolio(mockserver):
            assert mockserver.in_process and servers_running() == 1
            assert mockserver.url("mesh") == f"{mockserver.base_url}/__session/{mockserver.session}/mesh"
            assert mockserver.credentials("mesh")["headers"] == {"X-Client-Id": "mock-client-id", "X-Client-Secret": "sk_sand_mock_secret"}
            assert mockserver.credentials("mesh", "identity-1") == mockserver.credentials("mesh")
            status, body = portfolio(mockserver)
            assert status == 200 and body["status"] == "ok"


        def test_journal_and_count(mockserver):
            portfolio(mockserver, "alice")
            portfolio(mockserver, "bob")
            get(mockserver.url("mesh") + PORTFOLIO + "?UserId=carol")  # no credentials: 401
            assert mockserver.count(api="mesh") == 3
            assert mockserver.count(api="mesh", status=200) == 2
            assert mockserver.count(api="mesh", query={"UserId": "bob"}) == 1
            assert mockserver.count(api="mesh", status=401, method="GET", path="/mesh" + PORTFOLIO) == 1
            entries = mockserver.journal(api="mesh")
            assert [entry["query"]["UserId"] for entry in entries] == [["carol"], ["bob"], ["alice"]]
            assert entries[1]["headers"]["X-Client-Secret"] == ["<redacted>"]
            assert [entry["status"] for entry in mockserver.journal(status=401)] == [401]
            assert len(mockserver.journal(limit=1)) == 1


        def test_reset_clears_the_journal_and_faults(mockserver):
            portfolio(mockserver)
            mockserver.fault(api="mesh", latencyMs=1)
            assert mockserver.journal() and mockserver.faults()
            assert mockserver.reset() == ["mesh"]
            assert mockserver.journal() == [] and mockserver.faults() == []
            portfolio(mockserver)
            assert mockserver.clear_journal() == 1 and mockserver.count() == 0


        def test_a_fault_applies_once_in_the_apis_envelope(mockserver):
            fault = mockserver.fault(api="mesh", status=503, count=1)
            assert fault["remaining"] == 1
            status, body = portfolio(mockserver)
            assert status == 503
            assert body["status"] == "serverFailure" and body["errorType"] == "serverFailure"
            assert portfolio(mockserver)[0] == 200
            assert mockserver.faults() == []
            assert [entry["status"] for entry in mockserver.journal()] == [200, 503]
            mockserver.fault(api="mesh", latency_ms=[1, 2])
            mockserver.clear_faults()
            assert mockserver.faults() == []


        def test_errors_name_the_problem(mockserver):
            with pytest.raises(Exception, match="no API named 'nope'; mounted: mesh"):
                mockserver.url("nope")
            with pytest.raises(Exception, match="400 api must be one of: mesh"):
                mockserver.fault(api="nope", status=503)
            with pytest.raises(Exception, match="there is no identity 5"):
                mockserver.credentials("mesh", 5)
        """
    )
    result = run(project)
    result.assert_outcomes(passed=5)


def test_function_scope_gives_every_test_a_fresh_server(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_isolation="""
        from helpers import portfolio, servers_running

        seen = []


        def test_one(mockserver):
            portfolio(mockserver)
            mockserver.fault(api="mesh", status=500, count=10)
            seen.append(mockserver.base_url)


        def test_two(mockserver):
            assert mockserver.base_url not in seen  # another server on another port
            assert mockserver.journal() == [] and mockserver.faults() == []
            assert portfolio(mockserver)[0] == 200
            assert servers_running() == 1  # the first one was stopped


        def test_after_all():
            assert servers_running() == 0
        """
    )
    run(project, "--mockserver-scope=function").assert_outcomes(passed=3)


def test_reset_isolation_shares_the_default_session_reset_between_tests(project: pytest.Pytester, mesh_only: Path) -> None:
    tests = """
        from helpers import portfolio, servers_running
        import os


        def test_{name}(mockserver):
            assert servers_running() == 1
            with open("urls.txt", "a") as urls:
                urls.write(mockserver.base_url + "\\n")
            assert mockserver.journal() == [] and mockserver.faults() == []  # reset before every test
            portfolio(mockserver)
            mockserver.fault(api="mesh", status=500, count=10)
        """
    project.makepyfile(test_a=tests.format(name="a"), test_b=tests.format(name="b"), test_c=tests.format(name="c"))
    run(project, "--mockserver-scope=session", "--mockserver-isolation=reset").assert_outcomes(passed=3)
    urls = (project.path / "urls.txt").read_text().split()
    assert len(urls) == 3 and len(set(urls)) == 1

    (project.path / "urls.txt").unlink()
    project.makeini(
        f"[pytest]\nmockserver_specs = {mesh_only}\nasyncio_default_fixture_loop_scope = function\n"
        "mockserver_scope = module\nmockserver_isolation = reset\n"
    )
    project.makepyfile(test_b=tests.format(name="b") + tests.format(name="b2"))
    run(project).assert_outcomes(passed=4)
    a, b, b2, c = (project.path / "urls.txt").read_text().split()
    assert b == b2 and len({a, b, c}) == 3


def test_every_test_gets_a_sandbox_session_of_its_own_on_one_server(project: pytest.Pytester) -> None:
    tests = """
        from helpers import portfolio, servers_running


        def test_{name}(mockserver):
            assert servers_running() == 1
            with open("seen.txt", "a") as seen:
                seen.write(mockserver.base_url + " " + mockserver.session + "\\n")
            assert mockserver.journal() == [] and mockserver.faults() == []  # nothing of the other tests
            assert mockserver.export_scenario() == {{}}
            mockserver.mesh.user("alice", positions=[{{"symbol": "BTC", "amount": 1, "costBasis": 20000}}])
            mockserver.fault(api="mesh", status=500, count=10)
            mockserver.clock.advance(days=3)
        """
    project.makepyfile(test_a=tests.format(name="a"), test_b=tests.format(name="b"), test_c=tests.format(name="c"))
    run(project).assert_outcomes(passed=3)
    seen = [line.split() for line in (project.path / "seen.txt").read_text().splitlines()]
    assert len({base for base, _ in seen}) == 1 and len({session for _, session in seen}) == 3


def test_scenario_and_clock_helpers(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_helpers="""
        import datetime
        import pytest
        from helpers import portfolio

        PATH = "GET /api/v1/holdings/portfolio"


        def test_a_shaped_mesh_user(mockserver):
            mockserver.mesh.user("alice", positions=[{"symbol": "BTC", "amount": 0.5, "costBasis": 30000}], account_type="exchange")
            status, body = portfolio(mockserver, "alice")
            positions = body["content"]["cryptocurrencyPositions"]
            assert status == 200 and [(p["symbol"], p["amount"], p["costBasis"]) for p in positions] == [("BTC", 0.5, 30000)]
            assert body["content"]["portfolioCostBasis"] == 15000 and body["content"]["equityPositions"] == []
            mockserver.mesh.user("bob", error=451)
            assert portfolio(mockserver, "bob")[1]["status"] == "unavailableForLegalReasons"
            assert mockserver.export_scenario()["mesh"]["users"][0]["userId"] == "alice"


        def test_a_refused_scenario_lists_every_problem(mockserver):
            with pytest.raises(Exception, match="2 problems"):
                mockserver.mesh.user("alice", positions=[{"symbol": "NOPE", "amount": -1, "costBasis": 1}])


        def test_a_runtime_fixture_answers_its_count_then_lets_go(mockserver):
            body = {"content": {}, "status": "ok", "message": "from the fixture"}
            mockserver.fixture("mesh", PATH, {"status": 200, "body": body}, match={"query": {"UserId": "carol"}}, times=2)
            answers = [portfolio(mockserver, "carol")[1].get("message") for _ in range(3)]
            assert answers == ["from the fixture", "from the fixture", ""]


        def test_the_clock(mockserver):
            start = mockserver.clock.now()
            mockserver.clock.advance(days=30)
            assert mockserver.clock.now() - start == datetime.timedelta(days=30)
            mockserver.clock.set("2025-06-01T12:00:00Z")
            assert mockserver.clock.now() == datetime.datetime(2025, 6, 1, 12, tzinfo=datetime.timezone.utc)
        """
    )
    run(project).assert_outcomes(passed=4)


def test_every_apis_scenario_helper_installs_in_the_tests_session(pytester: pytest.Pytester) -> None:
    """With the bundled specs: each API's helper installs its item, which the session exports back."""
    pytester.makepyfile(
        test_shapers="""
        def test_shapers(mockserver):
            mockserver.omniex.key("mock-onx-key", portfolios=[])
            business = "urn:uuid:0c6e2f4a-5b7d-4e8f-9a1b-2c3d4e5f6a7b"
            mockserver.treasure.business(
                business, "2023-01-01",
                allocations=[{"date": "2023-01-01", "products": [{"product": "managed_treasuries", "percentage": 100}]}],
                contributions=[{"date": "2023-01-01", "amount": 1000}],
            )
            mockserver.bitpanda.key("mock-api-key", movements=[{"asset": "BTC", "type": "deposit", "at": "2024-01-15T10:00:00Z", "amount": "0.5"}])
            mockserver.bitcain.user("u-1", ledger=[])
            saved = mockserver.export_scenario()
            assert saved["omniex"] == {"keys": [{"key": "mock-onx-key", "portfolios": []}]}
            assert saved["treasure"]["businesses"][0]["business_id"] == business
            assert saved["bitpanda"]["keys"][0]["movements"][0]["amount"] == "0.5"
            assert saved["bitcain"] == {"users": [{"user_id": "u-1", "ledger": []}]}
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_parallel_workers_share_one_running_server_without_cross_talk(project: pytest.Pytester, mesh_only: Path) -> None:
    """pytest -n 4 against one server: every test shapes the same user and counts the same requests."""
    tests = "\n".join(
        f"""
def test_{index}(mockserver):
    mockserver.mesh.user("alice", positions=[{{"symbol": "ETH", "amount": {index + 1}, "costBasis": 1000}}])
    mockserver.clock.advance(days={index})
    for _ in range({index + 1}):
        status, body = portfolio(mockserver, "alice")
        assert body["content"]["cryptocurrencyPositions"][0]["amount"] == {index + 1}
    assert mockserver.count(api="mesh") == {index + 1}
    assert len(mockserver.journal()) == {index + 1}
"""
        for index in range(12)
    )
    project.makepyfile(test_parallel="from helpers import portfolio\n" + tests)
    with running_server("--specs", str(mesh_only)) as base:
        result = run_subprocess(project, "-n", "4", f"--mockserver-url={base}")
    result.assert_outcomes(passed=12)


def test_a_marker_gives_a_test_its_own_server_with_its_settings(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_marker="""
        import pytest
        from helpers import portfolio

        answers = {}


        def test_default(mockserver):
            answers[0] = portfolio(mockserver)[1]


        @pytest.mark.mockserver(seed=7)
        def test_seed_7(mockserver):
            answers[7] = portfolio(mockserver)[1]
            assert answers[7] != answers[0]


        @pytest.mark.mockserver(seed=0)
        def test_seed_0_again(mockserver):
            assert portfolio(mockserver)[1] == answers[0]


        @pytest.mark.mockserver(credentials={"mesh": [{"Client-Id": "mine", "Client-Secret": "my-secret"}]})
        def test_configured_credentials(mockserver):
            with pytest.raises(Exception, match="use the values you configured"):
                mockserver.credentials("mesh")


        @pytest.mark.mockserver(seed="many")
        def test_bad_settings(mockserver):
            pass
        """
    )
    result = run(project, "--mockserver-scope=session")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*mockserver settings: command line: seed must be int, got 'many'*"])


def test_the_copyable_example_passes(pytester: pytest.Pytester) -> None:
    """examples/test_with_mockserver.py, as it is, with the bundled specs and no options."""
    shutil.copy(ROOT / "examples" / "test_with_mockserver.py", pytester.path)
    run_subprocess(pytester).assert_outcomes(passed=8)


def test_mockserver_url_uses_a_running_server_and_starts_none(project: pytest.Pytester, mesh_only: Path) -> None:
    with running_server("--specs", str(mesh_only)) as base:
        project.makepyfile(
            test_remote=f"""
            import pytest
            from helpers import portfolio, servers_running


            def test_one(mockserver):
                assert not mockserver.in_process and mockserver.base_url == "{base}"
                assert mockserver.url("mesh") == "{base}/__session/" + mockserver.session + "/mesh"
                assert portfolio(mockserver)[0] == 200
                mockserver.fault(api="mesh", status=503, count=1)
                assert portfolio(mockserver)[0] == 503
                assert mockserver.count(api="mesh") == 2
                assert servers_running() == 0


            def test_two_starts_in_a_session_of_its_own(mockserver):
                assert mockserver.journal() == []
                assert portfolio(mockserver)[0] == 200


            @pytest.mark.mockserver(seed=7)
            def test_needs_its_own_server(mockserver):
                pass
            """
        )
        result = run(project, f"--mockserver-url={base}")
        result.assert_outcomes(passed=2, skipped=1)
        result.stdout.fnmatch_lines([f"*needs an in-process mockserver with {{'seed': 7}}; mockserver is the running server at {base}*"])
    result = run(project, "--mockserver-url=http://127.0.0.1:9", "-k", "two")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no usable mockserver at http://127.0.0.1:9*"])


def test_the_environment_variable_points_at_a_running_server(
    project: pytest.Pytester, mesh_only: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_server("--specs", str(mesh_only)) as base:
        project.makepyfile(
            test_env=f"""
            def test_remote(mockserver):
                assert not mockserver.in_process and mockserver.base_url == "{base}"
            """
        )
        monkeypatch.setenv("MOCKSERVER_URL", base + "/")
        run(project).assert_outcomes(passed=1)


def test_a_control_token_is_sent_as_bearer(project: pytest.Pytester, mesh_only: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "plugin-control-token"
    tests = """
        import urllib.error, urllib.request

        import pytest
        from helpers import portfolio


        def test_control_calls_carry_the_token(mockserver):
            assert mockserver.in_process is {in_process}
            with pytest.raises(urllib.error.HTTPError) as refused:  # the control API wants the token
                urllib.request.urlopen(mockserver.base_url + "/__mock/requests")
            assert refused.value.code == 401
            assert portfolio(mockserver)[0] == 200
            assert mockserver.count(api="mesh", status=200) == 1
            mockserver.reset()
        """
    with running_server("--specs", str(mesh_only), "--control-token", token) as base:
        project.makepyfile(test_token=tests.format(in_process=False))
        run(project, f"--mockserver-url={base}", f"--mockserver-control-token={token}").assert_outcomes(passed=1)
        monkeypatch.setenv("MOCKSERVER_CONTROL_TOKEN", token)
        run(project, f"--mockserver-url={base}").assert_outcomes(passed=1)
        monkeypatch.delenv("MOCKSERVER_CONTROL_TOKEN")
        result = run(project, f"--mockserver-url={base}")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*401 the control API needs Authorization: Bearer <control token> (set --mockserver-control-token*"])
    # an in-process server is started with the token, and the client sends it
    project.makepyfile(test_token=tests.format(in_process=True))
    run(project, f"--mockserver-control-token={token}").assert_outcomes(passed=1)


def test_a_bad_scope_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmockserver_scope = forever\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mockserver_scope must be one of function, module, session, got 'forever'*"])


def test_the_plugin_module_imports_cheaply() -> None:
    code = "import sys, mockserver.pytest_plugin; print(sorted(m for m in ('aiohttp', 'mockserver.app', 'yaml', 'asyncio') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_the_docs_show_the_example_as_it_is() -> None:
    page = (ROOT / "docs" / "pytest-plugin.md").read_text(encoding="utf-8")
    assert (ROOT / "examples" / "test_with_mockserver.py").read_text(encoding="utf-8").rstrip("\n") in page
