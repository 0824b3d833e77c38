"""``fangpin serve`` behind a reverse proxy: the client's address and the scheme come from the
proxy's X-Forwarded-* headers only with FANGPIN_TRUSTED_PROXY. The request goes through the
application as waitress wires it up for those options (its proxy-header handling included)."""

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
