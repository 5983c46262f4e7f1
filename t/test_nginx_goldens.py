"""Every golden nginx tree the renderer's unit tests pin (tests/unit/controller/golden/nginx/)
passes `nginx -t` with the built module: the renderer's output is not only stable but valid.
The goldens use paths relative to nginx's prefix, so each is checked in a prefix of its own
with the module at <prefix>/modules/. nginx resolves the docker-dns resolver and upstream
names only per request, so no name needs to resolve here."""

import shutil
import subprocess

import pytest

from conftest import BUILD_DIR, REPO

GOLDEN = REPO / "tests" / "unit" / "controller" / "golden" / "nginx"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "nginx.conf").is_file())


def test_there_are_goldens():
    assert len(CASES) >= 8, CASES


@pytest.mark.parametrize("case", CASES)
def test_golden_tree_passes_nginx_t_with_the_module(case, tmp_path):
    prefix = tmp_path / "prefix"
    shutil.copytree(GOLDEN / case, prefix / "conf")
    (prefix / "modules").mkdir()
    (prefix / "modules" / "ngx_http_captain_module.so").symlink_to(
        BUILD_DIR / "ngx_http_captain_module.so")
    for d in ("logs", "tmp"):
        (prefix / d).mkdir()
    ran = subprocess.run(["/usr/sbin/nginx", "-t", "-p", f"{prefix}/", "-c", "conf/nginx.conf",
                          "-e", str(prefix / "logs" / "error.log")],
                         capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0, ran.stderr
    assert "test is successful" in ran.stderr
