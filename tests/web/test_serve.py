"""``fangpin serve`` behind a reverse proxy: the client's address and the scheme come from the
proxy's X-Forwarded-* headers only with FANGPIN_TRUSTED_PROXY. The request goes through the
application as waitress wires it up for those options (its proxy-header handling included)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import waitress

from fangpin.web.management.commands.serve import proxy_options


def echo(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["REMOTE_ADDR"], environ.get("HTTP_X_FORWARDED_PROTO")]


def through_proxy(options: dict) -> list:
    """One request from 127.0.0.1, as a proxy forwards it: a forged entry from the client,
    then the address the proxy appended."""
    server = waitress.create_server(echo, host="127.0.0.1", port=0, **options)
    try:
        environ = {
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "wsgi.url_scheme": "http",
            "HTTP_X_FORWARDED_FOR": "10.9.9.9, 203.0.113.5",
            "HTTP_X_FORWARDED_PROTO": "https",
        }
        return list(server.application(environ, lambda status, headers: None))
    finally:
        server.close()


def test_with_a_trusted_proxy_the_client_address_and_scheme_come_through():
    assert through_proxy(proxy_options("127.0.0.1")) == ["203.0.113.5", "https"]


def test_without_one_every_request_has_the_proxys_address():
    assert proxy_options("") == {}
    assert through_proxy({}) == ["127.0.0.1", None]


def test_forwarded_headers_from_another_address_are_not_believed():
    assert through_proxy(proxy_options("192.0.2.1")) == ["127.0.0.1", None]


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
