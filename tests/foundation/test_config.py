"""Bad configuration ends with one clear line, not a traceback."""

import os
import subprocess
import sys

import pytest

from config import Config, ConfigError


def run_kaikaku(tmp_path, env_overrides, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def test_unreachable_database_is_one_line(tmp_path):
    result = run_kaikaku(
        tmp_path,
        {
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SECRET_KEY": "x",
            "PYTHONPATH": os.getcwd(),
        },
        "check",
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kaikaku: configuration error: cannot connect to the database")
    assert "Traceback" not in result.stderr


def test_unwritable_database_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:
        # root writes anywhere; use a path below a file, which nobody can create.
        blocker = tmp_path / "file"
        blocker.write_text("")
        db_path = blocker / "sub" / "kaikaku.db"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        db_path = locked / "kaikaku.db"
    result = run_kaikaku(
        tmp_path,
        {"DATABASE_URL": f"sqlite:///{db_path}", "SECRET_KEY": "x", "PYTHONPATH": os.getcwd()},
        "check",
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "database folder" in result.stderr


def test_good_configuration_passes_the_check_once_migrated(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        "SECRET_KEY": "x",
        "PYTHONPATH": os.getcwd(),
    }
    # A database never migrated: the check says so, and so do the commands that need tables.
    for command in (["check"], ["demo", "load"]):
        result = run_kaikaku(tmp_path, env, *command)
        assert result.returncode == 2, (command, result.stdout)
        assert result.stderr.strip() == (
            "kaikaku: the database is not migrated: run kaikaku db upgrade"
        ), result.stderr
    migrations = os.path.join(os.getcwd(), "migrations")
    upgrade = run_kaikaku(tmp_path, env, "db", "upgrade", "-d", migrations)
    assert upgrade.returncode == 0, upgrade.stderr
    result = run_kaikaku(tmp_path, env, "check")
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = Config(tmp_path / "instance", {}).SECRET_KEY
    second = Config(tmp_path / "instance", {}).SECRET_KEY
    assert first == second and len(first) >= 32
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0


def test_unwritable_instance_folder_for_the_secret_key(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write the secret key"):
        Config(blocker / "instance", {})


def test_database_defaults_to_sqlite_under_instance(tmp_path):
    config = Config(tmp_path / "instance", {"SECRET_KEY": "x"})
    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'instance' / 'kaikaku.db'}"
    assert config.TIMEZONE == "Asia/Tokyo"


def test_a_setting_that_is_not_a_number_is_named(tmp_path):
    with pytest.raises(ConfigError, match="SMTP_PORT must be a number, not 'abc'"):
        Config(tmp_path / "instance", {"SECRET_KEY": "x", "SMTP_PORT": "abc"})


@pytest.mark.parametrize(
    "sender",
    [
        "Kaikaku <kaikaku@city.example.jp>\r\nBcc: all@evil.example",
        "Kaikaku <not an address>",
        "",
    ],
)
def test_a_sender_address_no_mail_server_would_take_is_a_configuration_error(tmp_path, sender):
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        Config(tmp_path, {"SECRET_KEY": "x", "MAIL_FROM": sender or " "})


def test_a_real_sender_address_and_the_development_default_are_accepted(tmp_path):
    sender = "行政改革 <kaikaku@city.example.jp>"
    config = Config(tmp_path, {"SECRET_KEY": "x", "MAIL_FROM": sender})
    assert config.MAIL_FROM == "行政改革 <kaikaku@city.example.jp>"
    assert "kaikaku@localhost" in Config(tmp_path, {"SECRET_KEY": "x"}).MAIL_FROM


@pytest.mark.parametrize("value", ["-1", "11", "two"])
def test_the_trusted_proxy_count_must_be_a_small_number(tmp_path, value):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Config(tmp_path, {"SECRET_KEY": "x", "TRUSTED_PROXIES": value})


def test_no_proxy_is_trusted_unless_configured(tmp_path):
    assert Config(tmp_path, {"SECRET_KEY": "x"}).TRUSTED_PROXIES == 0
