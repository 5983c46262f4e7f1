"""Builds the captain-nginx and captain-controller images (docker/*/Dockerfile) on a Docker
engine, from a Debian bookworm base made here with debootstrap: nothing is pulled from any
registry, the only traffic is apt's to the Debian archive (deb.debian.org, or
$CAPTAIN_DEBIAN_MIRROR).

Plain Python, standard library only, like t/docker_engine.py:

    timings = {}
    tar = make_base_tarball(workdir, timings)          # debootstrap once, reused afterwards
    import_base(engine, tar, timings)                  # -> BASE_IMAGE
    build_captain_nginx(engine, workdir, timings)      # -> NGINX_IMAGE
    build_captain_controller(engine, workdir, timings) # -> CONTROLLER_IMAGE

or from a shell, against any engine (e.g. the one ./scripts/run starts):

    python3 t/captain_images.py --socket /tmp/cdk-XXXX/docker.sock [--workdir DIR]

debootstrap needs root. Every step is timed into `timings` (seconds) and printed.
"""

import argparse
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from docker_engine import DOCKER_CLI, DockerEngine

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = "docker/captain-nginx/Dockerfile"
CONTROLLER_DOCKERFILE = "docker/controller/Dockerfile"
# The build contexts: what each Dockerfile copies, nothing else (the repository root also holds
# build trees of several GB).
CONTEXT_PATHS = ("ngx_module", "shared", "docker/captain-nginx")
CONTROLLER_CONTEXT_PATHS = ("CMakeLists.txt", "cmake", "shared", "ngx_module", "controller",
                            "docker/controller")

BASE_IMAGE = "captain-base:bookworm"
NGINX_IMAGE = "captain-nginx:test"
CONTROLLER_IMAGE = "captain-controller:test"
MIRROR = os.environ.get("CAPTAIN_DEBIAN_MIRROR", "http://deb.debian.org").rstrip("/")
SUITE = "bookworm"
BASE_TAR = f"{SUITE}-minbase.tar"

DEBOOTSTRAP_TIMEOUT = 900
BUILD_TIMEOUT = 1200


class ImageBuildError(RuntimeError):
    pass


def _tail(text, lines=60):
    return "\n".join(text.splitlines()[-lines:])


def _note(timings, step, started):
    timings[step] = time.monotonic() - started
    print(f"captain_images: {step}: {timings[step]:.1f} s", flush=True)


def _unmount_below(directory):
    prefix = str(directory) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


def make_base_tarball(workdir, timings):
    """debootstrap --variant=minbase bookworm into workdir, packed as a tar for `docker import`;
    an existing tar in workdir, or the one $CAPTAIN_BASE_TARBALL names, is reused. Returns its
    path."""
    given = os.environ.get("CAPTAIN_BASE_TARBALL")
    if given:  # a tarball made earlier (e.g. by a previous run): saves the debootstrap
        if not os.path.isfile(given):
            raise ImageBuildError(f"CAPTAIN_BASE_TARBALL={given}: no such file")
        print(f"captain_images: using CAPTAIN_BASE_TARBALL={given}", flush=True)
        return Path(given)
    workdir = Path(workdir)
    tar_path = workdir / BASE_TAR
    if tar_path.exists():
        print(f"captain_images: reusing {tar_path}", flush=True)
        return tar_path
    debootstrap = shutil.which("debootstrap", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if debootstrap is None:
        raise ImageBuildError("debootstrap is not installed (scripts/setup installs it)")
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root")
    rootfs = workdir / "rootfs"
    log_path = workdir / "debootstrap.log"
    started = time.monotonic()
    try:
        with open(log_path, "wb") as log:
            run = subprocess.run([debootstrap, "--variant=minbase", SUITE, str(rootfs),
                                  f"{MIRROR}/debian"], stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, timeout=DEBOOTSTRAP_TIMEOUT)
        if run.returncode != 0:
            raise ImageBuildError(f"debootstrap exited with {run.returncode}:\n"
                                  f"{_tail(log_path.read_text(errors='replace'))}")
        _note(timings, "debootstrap", started)
        started = time.monotonic()
        # Like Debian's own images: no apt lists or package cache (the Dockerfile runs
        # apt-get update), no device nodes (the runtime provides /dev).
        partial = tar_path.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner",
                        "--exclude=./var/lib/apt/lists/*", "--exclude=./var/cache/apt/*",
                        "--exclude=./dev/*", "-cf", str(partial), "."],
                       check=True, capture_output=True, timeout=300)
        partial.rename(tar_path)
        _note(timings, "base tarball", started)
    finally:
        _unmount_below(rootfs)  # debootstrap leaves /proc mounted when it fails midway
        shutil.rmtree(rootfs, ignore_errors=True)
    return tar_path


def import_base(engine, tar_path, timings, name=BASE_IMAGE):
    started = time.monotonic()
    engine.docker("import", "--change", 'CMD ["/bin/bash"]', tar_path, name, timeout=300)
    _note(timings, "docker import base", started)
    return name


def context_tar(paths=CONTEXT_PATHS):
    """The build context as a tar (bytes): `paths` of the repository, as laid out there."""
    buf = io.BytesIO()

    def keep(info):
        parts = Path(info.name).parts
        if "__pycache__" in parts or info.name.endswith(".pyc"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    # GNU format: the docker CLI recognises a tar on stdin by its first 512-byte header, which a
    # PAX extended header would hide.
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for rel in paths:
            tar.add(str(REPO / rel), arcname=rel, filter=keep)
    return buf.getvalue()


def _docker_build(engine, args, context, buildkit, log_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env["DOCKER_BUILDKIT"] = "1" if buildkit else "0"
    command = [DOCKER_CLI, "-H", engine.host, "build", *args, "-"]
    with open(log_path, "wb") as log:
        run = subprocess.run(command, input=context, stdout=log, stderr=subprocess.STDOUT,
                             env=env, timeout=BUILD_TIMEOUT)
    return run.returncode, Path(log_path).read_text(errors="replace")


def build_image(engine, workdir, timings, dockerfile, paths, name, base=BASE_IMAGE):
    """docker build of `dockerfile` with the context `paths` on `engine` (host network: the
    test engine has no bridge). BuildKit when the docker CLI has it built in (Debian's 20.10
    does), the classic builder otherwise. The build log is workdir/<image>-build.log."""
    started = time.monotonic()
    context = context_tar(paths)
    args = ["--network", "host", "-f", dockerfile, "--build-arg", f"BASE={base}",
            "--build-arg", f"DEBIAN_MIRROR={MIRROR}", "-t", name]
    if getattr(engine, "build_proxy", None):
        # The engine's network namespace reaches Debian's archive only through this proxy
        # (docker_engine.py); http_proxy is one of Docker's predefined build arguments.
        args += ["--build-arg", f"http_proxy={engine.build_proxy}"]
    log_path = Path(workdir) / f"{name.split(':')[0]}-build.log"
    code, output = _docker_build(engine, ["--progress=plain", *args], context, True, log_path)
    if code != 0 and ("buildx" in output or "BuildKit" in output):
        # A CLI whose BuildKit lives in the (missing) buildx plugin.
        code, output = _docker_build(engine, args, context, False, log_path)
    if code != 0:
        raise ImageBuildError(f"docker build of {dockerfile} exited with {code}:\n"
                              f"{_tail(output)}")
    _note(timings, f"docker build {name.split(':')[0]}", started)
    return name


def build_captain_nginx(engine, workdir, timings, base=BASE_IMAGE, name=NGINX_IMAGE):
    return build_image(engine, workdir, timings, DOCKERFILE, CONTEXT_PATHS, name, base)


def build_captain_controller(engine, workdir, timings, base=BASE_IMAGE, name=CONTROLLER_IMAGE):
    """The controller compiled in the builder stage, as an operator builds it."""
    return build_image(engine, workdir, timings, CONTROLLER_DOCKERFILE, CONTROLLER_CONTEXT_PATHS,
                       name, base)


def build_all(engine, workdir, timings=None):
    """Base tarball (reused when workdir has one), import, captain-nginx build; the image name."""
    timings = {} if timings is None else timings
    ensure_base(engine, workdir, timings)
    return build_captain_nginx(engine, workdir, timings)


def ensure_base(engine, workdir, timings):
    """The base image on `engine`, imported from the tarball unless it is there already."""
    if engine.docker("image", "inspect", BASE_IMAGE, check=False).returncode == 0:
        return BASE_IMAGE
    tar_path = make_base_tarball(workdir, timings)
    return import_base(engine, tar_path, timings)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", required=True, help="the engine's unix socket")
    parser.add_argument("--workdir", default=None,
                        help="where the base tarball is made and kept (default: a new temp dir)")
    options = parser.parse_args()
    workdir = options.workdir or tempfile.mkdtemp(prefix="captain-images-")
    os.makedirs(workdir, exist_ok=True)
    engine = DockerEngine(os.path.dirname(os.path.abspath(options.socket)))
    engine.socket = os.path.abspath(options.socket)
    engine.host = "unix://" + engine.socket
    timings = {}
    tar_path = make_base_tarball(workdir, timings)
    import_base(engine, tar_path, timings)
    image = build_captain_nginx(engine, workdir, timings)
    controller = build_captain_controller(engine, workdir, timings)
    total = sum(timings.values())
    print(f"captain_images: built {image} and {controller} in {total:.1f} s; base tarball: "
          f"{tar_path}")


if __name__ == "__main__":
    main()
