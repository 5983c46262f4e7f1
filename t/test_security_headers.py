"""captain_security_headers, captain_security_header, captain_hide_header."""

import subprocess

import pytest

from conftest import free_port, request

DEFAULTS = {
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=()",
    "X-XSS-Protection": "0",
}
HSTS = "max-age=63072000; includeSubDomains"

CONF = """
    captain_security_headers on;
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
    server {
        listen 127.0.0.1:@PORT@;
        listen 127.0.0.1:@PORT2@ ssl;
        ssl_certificate @CERT@;
        ssl_certificate_key @KEY@;
        client_max_body_size 1k;
        proxy_read_timeout 1s;

        location / { proxy_pass http://@UPSTREAM@; }
        location /files/ { root /nonexistent-captain-www; }
        location /down/ { proxy_pass http://127.0.0.1:@CLOSED@; }
        location /limited/ { limit_req zone=one nodelay; limit_req_status 429; proxy_pass http://@UPSTREAM@; }

        location /framed/ {
            captain_security_header X-Frame-Options DENY;
            proxy_pass http://@UPSTREAM@;
            location /framed/nested/ { proxy_pass http://@UPSTREAM@; }
        }
        location /no-referrer-policy/ {
            captain_security_header Referrer-Policy "";
            proxy_pass http://@UPSTREAM@;
        }
        location /csp/ {
            captain_security_header Content-Security-Policy "default-src 'self'" if_absent;
            captain_security_header X-XSS-Protection "1; mode=block";
            proxy_pass http://@UPSTREAM@;
        }
        location /hidden/ {
            captain_hide_header X-Debug-Token Server;
            proxy_pass http://@UPSTREAM@;
        }
        location /add-header/ {
            add_header X-Frame-Options DENY always;
            return 200;
        }
        location /off/ { captain_security_headers off; proxy_pass http://@UPSTREAM@; }
    }
"""


@pytest.fixture
def server(nginx, tls_certificate):
    cert, key = tls_certificate
    conf = (CONF.replace("@CERT@", str(cert)).replace("@KEY@", str(key))
            .replace("@CLOSED@", str(free_port())))
    return nginx(conf)


def assert_defaults(r, **overrides):
    expected = {**DEFAULTS, **overrides}
    for name, value in expected.items():
        if value is None:
            assert r.header(name) is None, f"{name} should be absent"
        else:
            assert r.header(name) == value, f"{name} on a {r.status}"


def test_defaults_on_a_proxied_200(server):
    r = request(server.port, "/")
    assert r.status == 200
    assert_defaults(r)
    assert r.header("Strict-Transport-Security") is None, "HSTS only over TLS"


def test_hsts_only_over_tls(server):
    r = request(server.port_of("@PORT2@"), "/", tls=True)
    assert r.status == 200
    assert_defaults(r)
    assert r.header("Strict-Transport-Security") == HSTS


@pytest.mark.parametrize("path, method, body, status", [
    ("/files/missing.html", "GET", None, 404),
    ("/", "POST", b"x" * 4096, 413),
    ("/down/", "GET", None, 502),
    ("/slow/3", "GET", None, 504),
])
def test_defaults_on_nginx_error_pages(server, path, method, body, status):
    r = request(server.port, path, method=method, body=body)
    assert r.status == status
    assert_defaults(r)
    assert r.header("X-Request-ID")


def test_defaults_on_rate_limited_429(server):
    assert request(server.port, "/limited/").status == 200
    r = request(server.port, "/limited/")
    assert r.status == 429
    assert_defaults(r)


def test_upstream_error_status_keeps_headers(server):
    r = request(server.port, "/status/503")
    assert r.status == 503
    assert_defaults(r)


def test_location_override_keeps_inherited_headers(server):
    r = request(server.port, "/framed/")
    assert_defaults(r, **{"X-Frame-Options": "DENY"})


def test_nested_location_inherits_the_override(server):
    r = request(server.port, "/framed/nested/")
    assert_defaults(r, **{"X-Frame-Options": "DENY"})


def test_empty_value_removes_one_header_only(server):
    r = request(server.port, "/no-referrer-policy/")
    assert_defaults(r, **{"Referrer-Policy": None})


def test_added_header_and_seed_style_override(server):
    r = request(server.port, "/csp/")
    assert_defaults(r, **{"X-XSS-Protection": "1; mode=block"})
    assert r.header("Content-Security-Policy") == "default-src 'self'"


def test_if_absent_keeps_the_upstream_value(server):
    r = request(server.port, "/csp/?set=Content-Security-Policy:default-src%20https:")
    assert r.header("Content-Security-Policy") == "default-src https:"


def test_upstream_value_is_replaced_not_duplicated(server):
    r = request(server.port, "/?set=X-Frame-Options:ALLOWALL&set=x-content-type-options:sniff")
    assert_defaults(r)


def test_add_header_for_the_same_name_is_not_duplicated(server):
    r = request(server.port, "/add-header/")
    assert r.all("X-Frame-Options") == ["SAMEORIGIN"]


def test_x_powered_by_is_stripped(server):
    r = request(server.port, "/?set=X-Powered-By:Express&set=X-Other:kept")
    assert r.header("X-Powered-By") is None
    assert r.header("X-Other") == "kept"


def test_hide_header_adds_to_the_inherited_list(server):
    r = request(server.port, "/hidden/?set=X-Debug-Token:abc&set=X-Powered-By:PHP")
    assert r.header("X-Debug-Token") is None
    assert r.header("X-Powered-By") is None
    assert r.header("Server") is None, "captain_hide_header Server suppresses nginx's own"
    assert request(server.port, "/").header("Server"), "other locations keep Server"


def test_off_location_adds_and_strips_nothing(server):
    r = request(server.port, "/off/?set=X-Powered-By:Express")
    assert_defaults(r, **{name: None for name in DEFAULTS})
    assert r.header("X-Powered-By") == "Express"


def test_http2_responses_carry_the_headers(nginx):
    server = nginx("""
        captain_security_headers on;
        server {
            listen 127.0.0.1:@PORT@ http2;
            location / { return 200 "h2\\n"; }
        }
    """)
    out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "--http2-prior-knowledge",
                          f"http://127.0.0.1:{server.port}/"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    lines = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip()
             for line in out.splitlines()[1:] if ":" in line}
    assert out.startswith("HTTP/2 200")
    for name, value in DEFAULTS.items():
        assert lines.get(name.lower()) == value
    assert lines.get("x-request-id")


def test_security_headers_are_off_by_default(nginx):
    server = nginx("server { listen 127.0.0.1:@PORT@; location / { proxy_pass http://@UPSTREAM@; } }")
    r = request(server.port, "/?set=X-Powered-By:Express")
    assert r.header("X-Frame-Options") is None
    assert r.header("X-Powered-By") == "Express"
