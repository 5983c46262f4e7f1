"""The shipped example (conf/nginx.conf + conf/captain.conf), rendered the way ./scripts/run
renders it: it must pass nginx -t and do what its comments say."""

import shutil
import time

import pytest

from conftest import REPO, Nginx, free_port, request


@pytest.fixture
def example(tmp_path, echo, module_path):
    directory = tmp_path / "prefix"
    server = Nginx(directory, "", 2, True, echo.address)
    for sub in ("conf", "modules", "logs", "tmp"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    (directory / "modules" / "ngx_http_captain_module.so").symlink_to(module_path)
    shutil.copy(REPO / "conf" / "captain.conf", directory / "conf" / "captain.conf")
    port = free_port()
    text = ((REPO / "conf" / "nginx.conf").read_text()
            .replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            .replace("127.0.0.1:8081", echo.address)
            + "daemon off;\n")  # as ./scripts/run's -g 'daemon off;': the harness supervises it
    server.conf = directory / "conf" / "nginx.conf"
    server.conf.write_text(text)
    server.conf_text = text
    server.ports = {"@PORT@": port}
    yield server
    server.stop()


def test_the_example_passes_nginx_t_and_serves_through_the_module(example):
    example.start()
    r = request(example.port, "/hello")
    assert r.status == 200
    assert r.header("X-Request-ID") and r.header("traceparent")
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("X-RateLimit-Limit") is None  # only /api/ is rate limited


def test_the_example_api_is_limited_per_ip_and_per_api_key(example):
    example.start()
    r = request(example.port, "/api/items")
    assert r.status == 200
    assert r.header("X-RateLimit-Limit") == "100"

    # 100 requests pass at once; a client regains one every 0.6 s.
    started = time.monotonic()
    passed = 1
    for _ in range(300):
        r = request(example.port, "/api/items")
        if r.status != 200:
            break
        passed += 1
    elapsed = time.monotonic() - started
    assert r.status == 429 and r.header("Retry-After") is not None
    assert 100 <= passed <= 100 + int(elapsed / 0.6) + 1, (passed, elapsed)

    # An API key is another tier with its own quota, and the IP tier does not count it.
    r = request(example.port, "/api/items", headers=[("X-Api-Key", "k-123")])
    assert r.status == 200
    assert r.header("X-RateLimit-Limit") == "1000"
