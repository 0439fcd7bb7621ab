"""Settings precedence: command line > environment > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.cli import _settings as cli_settings
from mockserver.cli import build_parser
from mockserver.settings import DEFAULT_CLOCK, SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings({}, environ={})
    assert (settings.host, settings.port, settings.seed, settings.clock) == ("127.0.0.1", 8080, 0, DEFAULT_CLOCK)
    assert settings.specs == [] and settings.credentials == {}


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "mockserver.yaml"
    config.write_text("port: 7000\nseed: 1\nhost: 0.0.0.0\nspecs: [my-specs]\n")
    environ = {"MOCKSERVER_CONFIG": str(config), "MOCKSERVER_SEED": "2", "MOCKSERVER_PORT": "7100"}
    settings = load_settings({"port": 7200}, environ=environ)
    assert settings.port == 7200  # flag beats environment
    assert settings.seed == 2  # environment beats file
    assert settings.host == "0.0.0.0"  # file beats default
    assert settings.specs == [tmp_path / "my-specs"]  # relative to the config file
    assert settings.config == config


def test_config_flag_beats_config_environment(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("seed: 1\n")
    (tmp_path / "b.yaml").write_text("seed: 2\n")
    settings = load_settings({"config": tmp_path / "b.yaml"}, environ={"MOCKSERVER_CONFIG": str(tmp_path / "a.yaml")})
    assert settings.seed == 2


def test_credentials_from_environment_json() -> None:
    settings = load_settings({}, environ={"MOCKSERVER_CREDENTIALS": '{"mesh": [{"Client-Id": "a", "Client-Secret": "b"}]}'})
    assert settings.credentials == {"mesh": [{"Client-Id": "a", "Client-Secret": "b"}]}


def test_path_lists_from_environment_use_the_path_separator() -> None:
    settings = load_settings({}, environ={"MOCKSERVER_SPECS": "one:two"})
    assert settings.specs == [Path("one"), Path("two")]


@pytest.mark.parametrize(
    ("cli", "environ", "needle"),
    [
        ({}, {"MOCKSERVER_PORT": "http"}, "port"),
        ({}, {"MOCKSERVER_CREDENTIALS": "{not json"}, "MOCKSERVER_CREDENTIALS"),
        ({}, {"MOCKSERVER_CREDENTIALS": '{"mesh": {"a": 1}}'}, "credentials"),
        ({}, {"MOCKSERVER_CREDENTIALS": '{"bitpanda": ["x"]}'}, "credentials"),
        ({"clock": "yesterday"}, {}, "clock"),
        ({"api_ports": ["mesh:9001"]}, {}, "name=port"),
        ({"api_ports": ["mesh=high"]}, {}, "integers"),
        ({"api_ports": ["mesh=70000"]}, {}, "65535"),
        ({}, {"MOCKSERVER_LOG_FORMAT": "xml"}, "log_format"),
        ({}, {"MOCKSERVER_JOURNAL_SIZE": "-1"}, "journal_size"),
        ({"max_body_bytes": 0}, {}, r"max_body_bytes must be within 1\.\."),
        ({}, {"MOCKSERVER_MAX_URL_BYTES": "100"}, r"max_url_bytes must be within 256\.\..*got 100"),
        ({}, {"MOCKSERVER_MAX_HEADER_BYTES": "a lot"}, "max_header_bytes must be int"),
        ({"max_header_bytes": 2 << 20}, {}, "max_header_bytes"),
        ({"max_headers": 7}, {}, "max_headers"),
        ({"max_portfolios_per_user": -1}, {}, "max_portfolios_per_user"),
        ({"max_ledger_entries_per_user": -1}, {}, "max_ledger_entries_per_user"),
    ],
)
def test_bad_values_are_reported(cli: dict[str, object], environ: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings(cli, environ=environ)


def test_bad_config_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(SettingsError, match=r"missing\.yaml"):
        load_settings({"config": missing}, environ={})
    broken = tmp_path / "broken.yaml"
    broken.write_text("port: [\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings({"config": broken}, environ={})
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("colour: blue\n")
    with pytest.raises(SettingsError, match=r"unknown setting 'colour'"):
        load_settings({"config": unknown}, environ={})


def test_serving_settings_from_flags_environment_and_file(tmp_path: Path) -> None:
    flags = load_settings({"api_ports": ["mesh=9001", "omniex=9002"], "watch": True, "quiet": True, "state": tmp_path / "s.db"}, environ={})
    assert flags.api_ports == {"mesh": 9001, "omniex": 9002}
    assert flags.watch and flags.quiet and flags.state == tmp_path / "s.db"
    environ = {
        "MOCKSERVER_API_PORTS": "mesh=9001,omniex=9002",
        "MOCKSERVER_QUIET": "true",
        "MOCKSERVER_CONTROL_TOKEN": "t",
        "MOCKSERVER_JOURNAL_SIZE": "5",
    }
    from_env = load_settings({}, environ=environ)
    assert from_env.api_ports == {"mesh": 9001, "omniex": 9002}
    assert from_env.quiet and from_env.control_token == "t" and from_env.journal_size == 5
    config = tmp_path / "mockserver.yaml"
    config.write_text("state: data/state.db\napi_ports: {mesh: 9001}\nlog_format: json\n")
    from_file = load_settings({"config": config}, environ={})
    assert from_file.state == tmp_path / "data" / "state.db"  # relative to the file
    assert from_file.api_ports == {"mesh": 9001} and from_file.log_format == "json"


def test_clock_now_follows_real_time() -> None:
    assert load_settings({"clock": "now"}, environ={}).frozen_clock() is None


LIMITS = {
    "max_body_bytes": 1_048_576,
    "max_url_bytes": 8_192,
    "max_header_bytes": 16_384,
    "max_headers": 100,
    "max_portfolios_per_user": 500,
    "max_ledger_entries_per_user": 20_000,
}


def test_limits_have_defaults_and_come_from_flags_environment_and_file(tmp_path: Path) -> None:
    defaults = load_settings({}, environ={})
    assert {name: getattr(defaults, name) for name in LIMITS} == LIMITS
    args = build_parser().parse_args(["serve", *(f"--{name.replace('_', '-')}={index + 300}" for index, name in enumerate(LIMITS))])
    flags = cli_settings(args)
    assert {name: getattr(flags, name) for name in LIMITS} == {name: index + 300 for index, name in enumerate(LIMITS)}
    from_env = load_settings({}, environ={f"MOCKSERVER_{name.upper()}": str(index + 400) for index, name in enumerate(LIMITS)})
    assert {name: getattr(from_env, name) for name in LIMITS} == {name: index + 400 for index, name in enumerate(LIMITS)}
    config = tmp_path / "mockserver.yaml"
    config.write_text("max-headers: 50\nmax_portfolios_per_user: 0\n")
    from_file = load_settings({"config": config}, environ={})
    assert (from_file.max_headers, from_file.max_portfolios_per_user) == (50, 0)
