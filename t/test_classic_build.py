"""ngx_module/config: the module builds the classic way (./configure --add-dynamic-module) and
the resulting .so loads into nginx. This is how docker/ builds it for the captain-nginx image."""

import os
import shutil
import subprocess

import pytest

import conftest
from conftest import REPO, request

NGINX_TREE = "/usr/share/nginx/src"   # Debian's nginx-dev: configure tree + headers


@pytest.fixture(scope="module")
def classic_module(tmp_path_factory):
    tree = tmp_path_factory.mktemp("classic") / "nginx"
    shutil.copytree(NGINX_TREE, tree)
    configure = subprocess.run(
        ["bash", "-c", '. ./conf_flags && ./configure "${NGX_CONF_FLAGS[@]}" '
                       f'--add-dynamic-module={REPO / "ngx_module"}'],
        cwd=tree, capture_output=True, text=True, timeout=300)
    assert configure.returncode == 0, configure.stdout[-3000:] + configure.stderr[-3000:]
    # nginx's own flags apply here, -Werror included.
    make = subprocess.run(["make", f"-j{os.cpu_count() or 2}", "-f", "objs/Makefile", "modules"],
                          cwd=tree, capture_output=True, text=True, timeout=600)
    assert make.returncode == 0, make.stdout[-3000:] + make.stderr[-3000:]
    module = tree / "objs" / "ngx_http_captain_module.so"
    assert module.exists()
    return module


def test_classic_build_loads_and_serves(classic_module, nginx, monkeypatch):
    monkeypatch.setattr(conftest, "MODULE", classic_module)
    server = nginx("""
        captain_trace on;
        captain_security_headers on;
        server { listen 127.0.0.1:@PORT@; location / { proxy_pass http://@UPSTREAM@; } }
    """)
    assert f"load_module {classic_module};" in server.conf_text
    r = request(server.port, "/")
    assert r.status == 200
    assert r.header("X-Request-ID")
    assert r.header("traceparent")
    assert r.header("X-Frame-Options") == "SAMEORIGIN"
