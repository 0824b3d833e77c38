"""Deployment settings: Django's deploy checks are clean when configured from the environment."""

import os
import subprocess
import sys


def test_deploy_checks_are_clean_with_production_environment(tmp_path):
    env = {
        **os.environ,
        "FANGPIN_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-0123456789abcdef",
        "DEBUG": "0",
        "FANGPIN_HTTPS": "1",
        "ALLOWED_HOSTS": "fangpin.example.org",
    }
    env.pop("DATABASE_URL", None)
    env.pop(
        "DJANGO_ALLOW_ASYNC_UNSAFE", None
    )  # set by the browser tests for their own process only
    r = subprocess.run(
        [sys.executable, "-m", "fangpin", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_a_local_secret_key_is_generated_once_with_private_permissions(tmp_path):
    env = {**os.environ, "FANGPIN_DATA_DIR": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    cmd = [
        sys.executable,
        "-c",
        "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','fangpin.config.settings');"
        "from django.conf import settings;print(settings.SECRET_KEY)",
    ]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    assert first == second and len(first.strip()) > 40
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
