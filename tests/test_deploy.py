"""Deployment: production settings pass `check --deploy`, bad configuration stops start-up with
a message naming the variable, and the Docker/compose files agree with the code they run.

Settings are read once per process, so every start-up case runs manage.py in a subprocess with
an environment built from scratch (nothing leaks in from the test run's own DEBUG or URLs).
"""

import ast
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml  # PyYAML: installed with `responses` (a dev dependency)
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from listening.models import Channel
from socialdesk.crypto import decrypt_json
from tests.conftest import make_channel

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "manage.py"
PRODUCTION_SECRET = secrets.token_urlsafe(50)  # 67 random characters


def production_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    """A production-like environment; an override of None removes that variable."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "SOCIALDESK_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "false",
        "SECRET_KEY": PRODUCTION_SECRET,
        "ALLOWED_HOSTS": "desk.example.com",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/socialdesk"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "CREDENTIALS_KEY": Fernet.generate_key().decode(),
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    assert len(PRODUCTION_SECRET) >= 50 and len(set(PRODUCTION_SECRET)) >= 5

    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in result.stdout, output
    assert "WARNING" not in output


def test_bad_debug_value_stops_startup_naming_the_variable(tmp_path):
    result = manage(production_env(tmp_path, DEBUG="maybe"), "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_negative_recovery_margin_stops_startup_naming_the_variable(tmp_path):
    result = manage(production_env(tmp_path, REPLY_RECOVERY_MARGIN_SECONDS="-5"), "check")

    assert result.returncode != 0
    assert "REPLY_RECOVERY_MARGIN_SECONDS 0 or more" in result.stderr


def test_missing_secret_key_with_debug_off_stops_startup(tmp_path):
    result = manage(production_env(tmp_path, SECRET_KEY=None), "check")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_missing_secret_key_is_allowed_for_a_debug_demo(tmp_path):
    result = manage(production_env(tmp_path, SECRET_KEY=None, DEBUG="true"), "check")

    assert result.returncode == 0, result.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-a-file-" + PRODUCTION_SECRET + "\n")
    env = production_env(tmp_path, SECRET_KEY=None, SECRET_KEY_FILE=str(secret_file))

    result = manage(
        env, "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)"
    )

    assert result.returncode == 0, result.stderr
    # Django 6's shell may first print what it imported: the value is the last line.
    assert result.stdout.strip().splitlines()[-1] == "from-a-file-" + PRODUCTION_SECRET


def test_unreadable_secret_file_stops_startup(tmp_path):
    env = production_env(tmp_path, SECRET_KEY_FILE=str(tmp_path / "missing"))

    result = manage(env, "check")

    assert result.returncode != 0
    assert "SECRET_KEY_FILE=" in result.stderr
    assert "cannot be read" in result.stderr


def test_bad_credentials_key_gives_a_clear_error(tmp_path):
    # Whether settings reject the key at start-up or the first encryption does, the operator
    # must see the variable's name and how to make a valid key.
    env = production_env(tmp_path, CREDENTIALS_KEY="not-a-fernet-key")

    result = manage(
        env,
        "shell",
        "-c",
        "from socialdesk.crypto import encrypt_json; encrypt_json({'bearer_token': 't'})",
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CREDENTIALS_KEY must be 32 url-safe base64-encoded bytes" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


@pytest.mark.django_db
def test_credentials_key_rotation_as_documented(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old_key]
    channel = make_channel(credentials={"bearer_token": "rotate-me"})

    # Step 1: the new key first, the old one after it: stored credentials still decrypt.
    settings.CREDENTIALS_KEYS = [new_key, old_key]
    assert Channel.objects.get(pk=channel.pk).credentials == {"bearer_token": "rotate-me"}

    # Without step 2, dropping the old key loses the credentials, with a clear error.
    settings.CREDENTIALS_KEYS = [new_key]
    with pytest.raises(ImproperlyConfigured, match="CREDENTIALS_KEY changed"):
        decrypt_json(Channel.objects.get(pk=channel.pk).credentials_encrypted)

    # Step 2: re-encrypt every channel (the command README.md gives), then drop the old key.
    settings.CREDENTIALS_KEYS = [new_key, old_key]
    call_command("rotate_credentials")
    settings.CREDENTIALS_KEYS = [new_key]
    assert Channel.objects.get(pk=channel.pk).credentials == {"bearer_token": "rotate-me"}


def test_collectstatic_runs_with_the_docker_build_environment(tmp_path):
    # Exactly the variables the Dockerfile gives collectstatic; no database or Redis server is
    # reachable during a build, so their URLs must only be parsed, never connected to.
    [build] = [i for i in _dockerfile_instructions() if "collectstatic" in i]
    step = next(part for part in build.split("&&") if "collectstatic" in part)
    words = shlex.split(step)
    build_env = dict(word.split("=", 1) for word in words[: words.index("python")])
    assert build_env["DEBUG"] == "false"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        **build_env,
        "SOCIALDESK_VAR_DIR": str(tmp_path / "build-var"),
        "STATIC_ROOT": str(tmp_path / "staticfiles"),
    }

    result = manage(env, "collectstatic", "--no-input")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles" / "admin" / "css" / "base.css").is_file()
    assert list((tmp_path / "staticfiles" / "django_htmx").glob("htmx*.js"))


def _dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [part.strip() for part in "\n".join(lines).replace("\\\n", " ").split("\n") if part]


def _healthcheck_probe() -> str:
    [healthcheck] = [i for i in _dockerfile_instructions() if i.startswith("HEALTHCHECK ")]
    command = json.loads(healthcheck[healthcheck.index(" CMD ") + 5 :])
    assert command[:2] == ["python", "-c"]
    return command[2]


def _run_probe(probe: str, base_url: str, allowed_hosts: str) -> subprocess.CompletedProcess[str]:
    assert "http://127.0.0.1:8000/health/ping" in probe
    code = probe.replace("http://127.0.0.1:8000", base_url)
    env = {"PATH": os.environ.get("PATH", ""), "ALLOWED_HOSTS": allowed_hosts}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def production_gunicorn(tmp_path, django_db_setup, django_db_blocker):
    """gunicorn serving the app with production settings, on the test database; yields its URL."""
    with django_db_blocker.unblock():
        db = connection.settings_dict
        database_url = (
            f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}"
            f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"
        )
    port = _free_port()
    env = production_env(tmp_path, DATABASE_URL=database_url, SECURE_SSL_REDIRECT=None)
    # As the image is built: its pages (the error pages too) link the collected, hashed files.
    collected = manage(env, "collectstatic", "--no-input")
    assert collected.returncode == 0, collected.stderr
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "socialdesk.wsgi", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()


def test_docker_healthcheck_probe_passes_host_and_https_checks(production_gunicorn):
    # Production redirects plain HTTP to HTTPS, except the liveness probe load balancers use.
    plain = requests.get(
        f"{production_gunicorn}/accounts/login/",
        headers={"Host": "desk.example.com"},
        allow_redirects=False,
        timeout=10,
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://desk.example.com/accounts/login/"
    ping = requests.get(
        f"{production_gunicorn}/health/ping",
        headers={"Host": "desk.example.com"},
        allow_redirects=False,
        timeout=10,
    )
    assert ping.status_code == 200
    probe = _healthcheck_probe()

    healthy = _run_probe(probe, production_gunicorn, "desk.example.com,other.example.com")
    wrong_host = _run_probe(probe, production_gunicorn, "not-allowed.example.com")

    assert healthy.returncode == 0, healthy.stderr
    assert wrong_host.returncode != 0
    assert "HTTP Error 400" in wrong_host.stderr


def test_compose_stack_matches_the_image_and_the_code():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "beat", "simulator"}

    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["command"][:4] == ["celery", "-A", "socialdesk", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "socialdesk", "beat"]

    # Only the demo profile runs the simulator; its module is the one `make run` uses.
    assert services["simulator"]["profiles"] == ["demo"]
    assert all("profiles" not in s for n, s in services.items() if n != "simulator")
    assert services["simulator"]["command"][:3] == ["python", "-m", "listening.simulator"]
    assert "listening.simulator" in (ROOT / "Procfile.dev").read_text()

    # Beat's schedule file is in SOCIALDESK_VAR_DIR: the volume must be mounted exactly there.
    env_line = next(i for i in _dockerfile_instructions() if i.startswith("ENV "))
    var_dir = re.search(r"SOCIALDESK_VAR_DIR=(\S+)", env_line).group(1)
    assert f"beatdata:{var_dir}" in services["beat"]["volumes"]

    # Containers must not fall back to the embedded database and broker.
    environment = services["web"]["environment"]
    assert "@db:5432/" in environment["DATABASE_URL"]
    assert "redis://redis:6379/" in environment["REDIS_URL"]


def _settings_variables() -> set[str]:
    """Names settings.py reads through env_* helpers or os.environ.get (not the *_FILE forms)."""
    tree = ast.parse((ROOT / "socialdesk" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func, first = node.func, node.args[0]
        helper = isinstance(func, ast.Name) and func.id in {
            "env_str",
            "env_bool",
            "env_int",
            "env_list",
        }
        environ_get = (
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "environ"
        )
        if (helper or environ_get) and isinstance(first, ast.Constant):
            names.add(first.value)
    return names


def test_env_example_and_readme_document_every_setting():
    names = _settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "CREDENTIALS_KEY", "SOCIALDESK_VAR_DIR"} <= names
    env_example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()

    missing_in_example = {n for n in names if not re.search(rf"^#? ?{n}=", env_example, re.M)}
    missing_in_readme = {n for n in names if f"`{n}`" not in readme}

    assert not missing_in_example, f".env.example lacks {sorted(missing_in_example)}"
    assert not missing_in_readme, (
        f"README.md's configuration table lacks {sorted(missing_in_readme)}"
    )
    for secret in ("SECRET_KEY_FILE", "CREDENTIALS_KEY_FILE"):
        assert re.search(rf"^#? ?{secret}=", env_example, re.M)


def test_missing_credentials_key_with_debug_off_stops_startup_naming_it(tmp_path):
    result = manage(production_env(tmp_path, CREDENTIALS_KEY=None), "check")

    assert result.returncode != 0
    assert "CREDENTIALS_KEY is not set" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


def test_missing_credentials_key_is_allowed_for_a_debug_demo(tmp_path):
    result = manage(production_env(tmp_path, CREDENTIALS_KEY=None, DEBUG="true"), "check")

    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_credentials_of_an_install_without_a_key_are_read_then_rotated(settings):
    from socialdesk import crypto

    # What an install without CREDENTIALS_KEY stored: encrypted with the derived key.
    legacy = Fernet(crypto.derived_key()).encrypt(b'{"page_access_token": "old-token"}')
    channel = make_channel(credentials={"bearer_token": "unused"})
    Channel.objects.filter(pk=channel.pk).update(credentials_encrypted=legacy.decode())
    settings.CREDENTIALS_KEYS = [Fernet.generate_key().decode()]

    assert Channel.objects.get(pk=channel.pk).credentials == {"page_access_token": "old-token"}
    assert crypto.needs_rotation(Channel.objects.get(pk=channel.pk).credentials_encrypted)

    call_command("rotate_credentials")

    stored = Channel.objects.get(pk=channel.pk).credentials_encrypted
    assert not crypto.needs_rotation(stored)
    assert Fernet(settings.CREDENTIALS_KEYS[0]).decrypt(stored.encode())
    assert decrypt_json(stored) == {"page_access_token": "old-token"}


def test_the_package_list_ships_every_app_of_the_desk():
    """An app missing from pyproject's package list imports from a checkout (the working
    directory is on the path) but not from an installed desk."""
    import fnmatch
    import tomllib

    from django.conf import settings

    pyproject = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ours = {
        app.split(".")[0]
        for app in settings.INSTALLED_APPS
        if (Path(settings.BASE_DIR) / app.split(".")[0] / "__init__.py").exists()
    }
    assert ours >= {"cases", "csat", "listening", "notifications", "qa", "sla", "socialdesk"}
    missing = {app for app in ours if not any(fnmatch.fnmatch(app, p) for p in shipped)}
    assert not missing, f"pyproject.toml's packages.find include lacks {sorted(missing)}"
