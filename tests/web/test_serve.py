"""``fangpin serve``: gunicorn with several processes, static files, and behind a reverse proxy
the client's address and the scheme from the proxy's X-Forwarded-* headers only with
FANGPIN_TRUSTED_PROXY. Real servers on loopback ports, real HTTP requests."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# a WSGI application that answers what it was told: the client's address, the scheme, the
# forwarded headers left in its environment
ECHO_SERVER = """
import sys
from fangpin.web.management.commands.serve import server_run

def echo(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    seen = [environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]]
    seen += [environ.get(h, "-") for h in ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
                                           "HTTP_X_FORWARDED_HOST")]
    return [" | ".join(seen).encode()]

server_run(echo, proxy=sys.argv[1], host="127.0.0.1", port=int(sys.argv[2]), workers=1, threads=2)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def started(args: list[str], port: int, path: str, *, env: dict | None = None) -> subprocess.Popen:
    """A server process, once it answers ``path`` on ``port`` (within a minute)."""
    process = subprocess.Popen(  # noqa: S603 — our own commands
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode()[-3000:])
        try:
            get(port, path)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the server did not answer in 60 s")


def stopped(process: subprocess.Popen) -> int:
    """Stop a server as a service manager does (SIGTERM) and return its exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()


@pytest.fixture(scope="module")
def echo_servers():
    """An echo server per proxy setting: none, the loopback address (where the test's requests
    come from), and another address."""
    servers = {}
    try:
        for proxy in ("", "127.0.0.1", "192.0.2.1"):
            port = free_port()
            args = [sys.executable, "-c", ECHO_SERVER, proxy, str(port)]
            servers[proxy] = (port, started(args, port, "/"))
        yield {proxy: port for proxy, (port, _) in servers.items()}
    finally:
        for _, process in servers.values():
            stopped(process)


# what a proxy forwards: a forged entry from the client, then the address the proxy appended
FORWARDED = {
    "X-Forwarded-For": "10.9.9.9, 203.0.113.5",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
}


def test_with_a_trusted_proxy_the_client_address_and_scheme_come_through(echo_servers):
    status, seen = get(echo_servers["127.0.0.1"], "/", FORWARDED)
    assert status == 200
    assert seen == "203.0.113.5 | https | 10.9.9.9, 203.0.113.5 | https | -"


def test_a_request_from_the_proxy_without_forwarded_headers_keeps_its_address(echo_servers):
    assert get(echo_servers["127.0.0.1"], "/") == (200, "127.0.0.1 | http | - | - | -")


def test_without_one_every_request_has_the_proxys_address_and_no_forwarded_header(
    echo_servers,
):
    assert get(echo_servers[""], "/", FORWARDED) == (200, "127.0.0.1 | http | - | - | -")


def test_forwarded_headers_from_another_address_are_not_believed(echo_servers):
    assert get(echo_servers["192.0.2.1"], "/", FORWARDED) == (200, "127.0.0.1 | http | - | - | -")


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads processes from /proc")
def test_fangpin_serve_answers_pages_and_static_files_from_several_processes(tmp_path):
    """The command as an operator runs it: static files collected, the pages and the static
    files answered, the given number of server processes, a clean stop on SIGTERM."""
    port = free_port()
    env = {**os.environ, "FANGPIN_DATA_DIR": str(tmp_path), "DEBUG": "0"}
    env.pop("DATABASE_URL", None)  # the login page reads no table: SQLite, unmigrated
    args = [sys.executable, "-m", "fangpin", "serve", "--port", str(port)]
    server = started(
        [*args, "--workers", "3", "--threads", "2", "--no-worker"], port, "/login/", env=env
    )
    try:
        status, page = get(port, "/login/")
        assert status == 200 and 'name="csrfmiddlewaretoken"' in page
        css = page.split('href="/static/web/app.')[1].split('"')[0]  # WhiteNoise's hashed name
        status, _ = get(port, f"/static/web/app.{css}")
        assert status == 200
        assert get(port, "/static/web/no-such-file.css")[0] == 404
        # gunicorn forks its workers one after another (and replaces one that died): wait
        # for the three, as a busy machine may take a while
        deadline = time.monotonic() + 60
        while len(workers := children(server.pid)) != 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 3
    finally:
        assert stopped(server) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_a_server_stopped_with_sigterm_stops_its_worker_too(tmp_path):
    """``kill PID`` (a process manager's stop) ends ``fangpin serve`` as Ctrl-C does: the
    worker it started stops with it, instead of running on, unseen, against the database."""
    env = {
        **os.environ,
        "FANGPIN_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ops.sqlite3'}",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    fangpin = str(Path(sys.executable).with_name("fangpin"))
    subprocess.run([fangpin, "migrate", "-v0"], env=env, check=True, timeout=180)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [fangpin, "serve", "--port", str(port), "--no-collectstatic"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not workers and time.monotonic() < deadline:  # the worker, once it has started
            children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
            workers = [int(pid) for pid in children.split()]
            time.sleep(0.1)
        assert workers, "fangpin serve started no worker"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        for pid in workers:  # left running by a server that did not stop it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if server.poll() is None:
            server.kill()
            server.wait()
