"""Sign-in configuration: who the allow-lists let in, where the secrets come from (never dora.toml, never
printed), and `dora dashboard` refusing to share the data without sign-in unless told --no-auth."""

from __future__ import annotations

import os
import re
import stat
import tomllib

import pytest
from typer.testing import CliRunner

from dashboard import signin
from dashboard.settings import AuthSettings, DashboardSettings, matches
from doralytics.cli import app
from tests.support.dashboard import app as app_test
from tests.support.dashboard import demo_warehouse
from warehouse import settings
from warehouse.settings import ConfigError

CLIENT_SECRET = "client-secret-value-123456"
COOKIE_SECRET = "0123456789abcdef" * 3
PROVIDER = "https://login.example.com/.well-known/openid-configuration"
CALLBACK = "https://dora.example.com/oauth2callback"


@pytest.fixture(autouse=True)
def no_secrets_around(tmp_path, monkeypatch):
    """No ~/.streamlit or ./.streamlit secrets of the machine, no secrets in the environment."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for name in (signin.CLIENT_SECRET_ENV, signin.COOKIE_SECRET_ENV, "DORA_CONFIG", signin.MODE_ENV):
        monkeypatch.delenv(name, raising=False)


def auth(**values) -> AuthSettings:
    return settings.parse(AuthSettings, values, "dashboard", "auth")


def test_allow_lists_match_addresses_domains_and_everyone():
    people = ("alice@example.com", "example.org", "@corp.example")
    assert matches("Alice@Example.com", people)
    assert matches("bob@example.org", people) and matches("carol@corp.example", people)
    assert not matches("bob@sub.example.org", people)  # a domain is not its subdomains
    assert not matches("alice@example.com.evil.net", people)
    assert not matches("mallory@evil.net", people)
    assert not matches(None, people) and not matches("not-an-address", ("*",))
    assert matches("anyone@anywhere.io", ("*",))
    assert not matches("alice@example.com", ())


def test_secrets_in_dora_toml_are_refused_with_where_they_go():
    for key in ("client_secret", "cookie_secret"):
        with pytest.raises(ConfigError) as info:
            settings.parse(DashboardSettings, {"auth": {key: "hunter2-not-to-be-seen"}}, "dashboard")
        message = str(info.value)
        assert message.startswith(f"dashboard.auth.{key}: unknown key")
        assert "DORA_OIDC_CLIENT_SECRET" in message and "hunter2" not in message


@pytest.mark.parametrize(
    ("values", "key", "says"),
    [
        ({"redirect_uri": "https://dora.example.com/"}, "dashboard.auth.redirect_uri", "/oauth2callback"),
        ({"server_metadata_url": "login.example.com"}, "dashboard.auth.server_metadata_url", "http(s) URL"),
        ({"allow": ["alice"]}, "dashboard.auth.allow", "not an email address"),
        ({"sql_users": "alice@example.com"}, "dashboard.auth.sql_users", "list of strings"),
    ],
)
def test_bad_sign_in_settings_name_the_key(values, key, says):
    with pytest.raises(ConfigError, match=re.escape(key)) as info:
        auth(**values)
    assert says in str(info.value)


def test_no_sign_in_settings_mean_no_sign_in():
    assert signin.resolve(auth(allow=["example.com"]), {}) is None


def test_part_of_a_sign_in_is_an_error_naming_what_is_missing():
    with pytest.raises(ConfigError) as info:
        signin.resolve(auth(server_metadata_url=PROVIDER, client_id="dora"), {})
    assert "client_secret, redirect_uri missing" in str(info.value)
    assert "DORA_OIDC_CLIENT_SECRET" in str(info.value)


def test_secrets_come_from_the_environment_and_a_random_cookie_secret_otherwise():
    settings_ = auth(server_metadata_url=PROVIDER, client_id="dora", redirect_uri=CALLBACK)
    found = signin.resolve(settings_, {signin.CLIENT_SECRET_ENV: CLIENT_SECRET})
    assert found is not None
    assert found.auth["client_secret"] == CLIENT_SECRET
    assert found.sources["client_secret"] == "$DORA_OIDC_CLIENT_SECRET"
    assert len(found.auth["cookie_secret"]) == 64 and found.sources["cookie_secret"].startswith("random")
    again = signin.resolve(settings_, {signin.CLIENT_SECRET_ENV: CLIENT_SECRET})
    assert again is not None and again.auth["cookie_secret"] != found.auth["cookie_secret"]
    given = signin.resolve(
        settings_, {signin.CLIENT_SECRET_ENV: CLIENT_SECRET, signin.COOKIE_SECRET_ENV: COOKIE_SECRET}
    )
    assert given is not None and given.auth["cookie_secret"] == COOKIE_SECRET
    with pytest.raises(ConfigError, match="shorter than 32") as info:
        signin.resolve(
            settings_, {signin.CLIENT_SECRET_ENV: CLIENT_SECRET, signin.COOKIE_SECRET_ENV: "short1"}
        )
    assert "short1" not in str(info.value)


def test_a_streamlit_secrets_file_can_hold_all_of_it(tmp_path):
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{CALLBACK}"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "from-file"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{PROVIDER}"\n'
    )
    found = signin.resolve(auth(secrets_file=str(secrets_file), client_id="from-dora-toml"), {})
    assert found is not None
    assert found.auth == {
        "redirect_uri": CALLBACK,
        "cookie_secret": COOKIE_SECRET,
        "client_id": "from-dora-toml",  # dora.toml wins over the file for what is not secret
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": PROVIDER,
    }
    # the file Streamlit itself would read is used when none is named
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(secrets_file.read_text())
    default = signin.resolve(auth(), {})
    assert default is not None and default.auth["client_id"] == "from-file"
    with pytest.raises(ConfigError, match="no such file"):
        signin.resolve(auth(secrets_file=str(tmp_path / "missing.toml")), {})


def test_the_secrets_file_for_streamlit_is_private_and_round_trips(tmp_path):
    odd = 'quote " backslash \\ tab \t end'
    sign_in = signin.SignIn(
        {"client_secret": odd, "cookie_secret": COOKIE_SECRET, "client_id": "x", "redirect_uri": CALLBACK},
        {},
    )
    path = signin.write_secrets(sign_in, tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert tomllib.loads(path.read_text())["auth"]["client_secret"] == odd


def run_dora(tmp_path, *args: str, config: str | None = None, env: dict | None = None):
    warehouse = tmp_path / "w.duckdb"
    base = ["--warehouse", str(warehouse)]
    if config is not None:
        (tmp_path / "dora.toml").write_text(config)
        base = ["--config", str(tmp_path / "dora.toml"), *base]
    return CliRunner().invoke(app, [*base, "dashboard", *args], env=env)


def test_sharing_without_sign_in_refuses_to_start_and_says_how(tmp_path):
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        result = run_dora(tmp_path, "--host", host, "--port", "9")
        assert result.exit_code == 2
        said = " ".join(result.stderr.split())
        assert f"refusing to serve {host} without sign-in" in said
        assert "[dashboard.auth] server_metadata_url, client_id and redirect_uri" in said
        assert "$DORA_OIDC_CLIENT_SECRET" in said and "--no-auth" in said


def test_no_auth_with_a_sign_in_configured_is_a_contradiction(tmp_path):
    config = (
        "[dashboard.auth]\n"
        f'server_metadata_url = "{PROVIDER}"\nclient_id = "dora"\nredirect_uri = "{CALLBACK}"\n'
    )
    result = run_dora(
        tmp_path,
        "--host",
        "0.0.0.0",
        "--no-auth",
        config=config,
        env={signin.CLIENT_SECRET_ENV: CLIENT_SECRET},
    )
    assert result.exit_code == 2 and "--no-auth, yet sign-in is configured" in result.stderr
    partial = run_dora(tmp_path, "--host", "0.0.0.0", config=config)
    assert partial.exit_code == 2 and "client_secret missing" in " ".join(partial.stderr.split())
    secret_in_file = run_dora(tmp_path, config=config + 'client_secret = "hunter2-not-to-be-seen"\n')
    assert secret_in_file.exit_code == 2
    assert "never go in dora.toml" in " ".join(secret_in_file.stderr.split())
    assert "hunter2" not in secret_in_file.stderr + secret_in_file.stdout


def test_no_auth_shows_a_banner_on_every_page(tmp_path_factory, monkeypatch):
    warehouse = demo_warehouse(tmp_path_factory.getbasetemp())
    at = app_test(warehouse, monkeypatch)
    monkeypatch.setenv(signin.MODE_ENV, "open")
    at.run()
    assert not at.exception
    assert any("Sign-in is off (`--no-auth`)" in w.value for w in at.warning)
    assert len(at.metric) == 5  # the data is shown, as asked


def test_started_any_other_way_off_this_machine_it_shows_nothing(tmp_path_factory, monkeypatch):
    warehouse = demo_warehouse(tmp_path_factory.getbasetemp())
    at = app_test(warehouse, monkeypatch)
    at.run()
    assert len(at.metric) == 5  # AppTest: no network client, this machine
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")  # as `streamlit run --server.address 0.0.0.0` would
    try:
        hidden = app_test(warehouse, monkeypatch).run()
    finally:
        config.set_option("server.address", before)
    assert not hidden.metric and "sign-in is not configured" in hidden.error[0].value
