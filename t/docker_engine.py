"""A private Docker engine in Swarm mode for tests and benchmarks, plus locally made test images.

Our own dockerd runs with every path (socket, data-root, exec-root, pidfile, log) inside one
short work directory (/tmp/cdk-XXXX by default: unix socket paths must stay under 108 bytes),
in a network namespace of its own (`ip netns`, named like the work directory): its swarm
ports (2377, gossip on 7946, VXLAN) and everything its containers publish live there, so
another swarm on this machine cannot interfere with it (Swarm's service DNS silently breaks
when two share port 7946), and it binds nothing on the machine's own addresses. A veth pair
links the namespace to the host: published ports are reached at `engine.published_host`
(the namespace's end, 169.254.<n>.2), and image builds reach Debian's archive through a
small HTTP proxy on the host's end (`engine.build_proxy`). The engine never touches a system
dockerd on /var/run/docker.sock, needs no iptables and no bridge, and nothing is ever pulled:
the test images are imported from Debian's busybox-static.

Plain Python, standard library only, so that pytest (t/conftest.py) and scripts/bench/ can both
use it:

    engine = DockerEngine.start_private()
    engine.build_test_images()        # engine.images["web1"] == "captain-test/web:1"
    ...
    engine.shutdown()
"""

import http.client
import http.server
import io
import json
import os
import random
import shutil
import signal
import socket
import socketserver
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse

API = "/v1.41"
DOCKERD = shutil.which("dockerd", path="/usr/sbin:/usr/bin:/sbin:/bin") or "dockerd"
# The client from the same Debian package as dockerd: PATH may hold a newer one elsewhere
# (e.g. /usr/local/bin), whose output and defaults differ from the engine we test against.
DOCKER_CLI = os.environ.get("CAPTAIN_DOCKER_CLI") or (
    "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker") or "docker")
# dockerd runs its own containerd unless this socket exists, then it shares that one.
SYSTEM_CONTAINERD = "/run/containerd/containerd.sock"
BUSYBOX = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)

MANAGED_LABEL = "com.caprover.managed=true"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

IMAGES = {"web1": "captain-test/web:1", "web2": "captain-test/web:2",
          "broken": "captain-test/broken:1"}
HTTPD_CMD = '["/bin/busybox","httpd","-f","-p","80","-h","/www"]'
BROKEN_CMD = '["/bin/sh","-c","sleep 1; exit 1"]'
# Applets the images call by name; everything else goes through /bin/busybox explicitly.
APPLETS = ("sh", "sleep", "httpd", "wget", "cat", "ls", "echo", "nc")


class DockerError(RuntimeError):
    pass


class _UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over the engine's unix socket (the Host header is a dummy)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _free_port(kind, low=20000, high=32000):
    """A port free on 127.0.0.1 for `kind` (SOCK_STREAM or SOCK_DGRAM), below the ephemeral
    range: swarm's --data-path-port must lie in 1024..49151."""
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise DockerError("no free port found")


def _children_of(parents):
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid in parents:
            children.append(int(entry))
    return children


def _tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


class NetworkNamespace:
    """The engine's own network namespace, linked to the host by a veth pair on a /30 of
    169.254.0.0/16 (link-local: never routed anywhere, so it cannot clash with a real network).
    Deleting the namespace deletes the pair."""

    def __init__(self, tag):
        self.name = f"cdk-{tag}"
        self.host_interface = f"cdkh{tag}"  # IFNAMSIZ: at most 15 characters
        self.inner_interface = f"cdkn{tag}"
        used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True,
                              timeout=30).stdout
        for _ in range(200):
            n = random.randint(1, 250)
            if n != 169 and f"169.254.{n}." not in used:  # 169.254.169.254: cloud metadata
                break
        self.host_address = f"169.254.{n}.1"
        self.address = f"169.254.{n}.2"

    def path(self):
        return f"/var/run/netns/{self.name}"

    def wrap(self, argv):
        """argv run inside the namespace (network only: files and mounts stay the host's)."""
        return ["nsenter", f"--net={self.path()}", *map(str, argv)]

    def wait_for_port(self, port, deadline, host="127.0.0.1"):
        """Whether host:port in the namespace accepts a connection before `deadline`."""
        while time.monotonic() < deadline:
            probe = subprocess.run(self.wrap(["bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}"]),
                                   capture_output=True, timeout=30)
            if probe.returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def create(self):
        def ip(*args):
            subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)
        ip("netns", "add", self.name)
        try:
            ip("link", "add", self.host_interface, "type", "veth", "peer", "name",
               self.inner_interface)
            ip("link", "set", self.inner_interface, "netns", self.name)
            ip("addr", "add", f"{self.host_address}/30", "dev", self.host_interface)
            ip("link", "set", self.host_interface, "up")
            ip("-n", self.name, "addr", "add", f"{self.address}/30", "dev",
               self.inner_interface)
            ip("-n", self.name, "link", "set", self.inner_interface, "up")
            ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        if os.path.exists(f"/sys/class/net/{self.host_interface}"):
            subprocess.run(["ip", "link", "delete", self.host_interface], capture_output=True,
                           timeout=30)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """Forwards plain-HTTP GET/HEAD requests with absolute URIs (what apt sends to a proxy).
    Only for image builds: apt inside the engine's namespace reaches Debian's archive through
    it. Hand-written because it is twenty lines and the standard library has no proxy."""

    protocol_version = "HTTP/1.1"

    def _forward(self):
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self.send_error(400, "absolute http:// URIs only")
            return
        upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=120)
        try:
            target = url.path + (f"?{url.query}" if url.query else "")
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("proxy-connection", "connection", "keep-alive")}
            upstream.request(self.command, target or "/", headers=headers)
            resp = upstream.getresponse()
            body = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "keep-alive", "transfer-encoding",
                                     "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        finally:
            upstream.close()

    do_GET = _forward
    do_HEAD = _forward

    def log_message(self, *args):
        pass


class _ThreadingProxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class DockerEngine:
    def __init__(self, workdir):
        self.workdir = os.path.abspath(workdir)
        self.socket = os.path.join(self.workdir, "docker.sock")
        if len(self.socket.encode()) >= 108:
            raise ValueError(f"unix socket path too long (>= 108 bytes): {self.socket}")
        self.host = "unix://" + self.socket
        self.data_root = os.path.join(self.workdir, "data")
        self.exec_root = os.path.join(self.workdir, "exec")
        self.pidfile = os.path.join(self.workdir, "dockerd.pid")
        self.log_path = os.path.join(self.workdir, "dockerd.log")
        self.config_file = os.path.join(self.workdir, "daemon.json")
        # Names outside the work directory, made unique per engine: a system dockerd may own
        # "moby" in a shared containerd, and the host-wide "docker_gwbridge" interface.
        tag = "".join(ch for ch in os.path.basename(self.workdir) if ch.isalnum())[-8:]
        self.containerd_namespace = f"cdk-{tag}"
        self.gwbridge_interface = f"cdkgw{tag}"  # IFNAMSIZ: at most 15 characters
        self.netns = NetworkNamespace(tag)
        self.published_host = self.netns.address  # where host-mode published ports listen
        self.build_proxy = None  # http://<host end>:<port> once start_private() ran
        self._proxy = None
        self.process = None
        self.images = {}

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start_private(cls, workdir=None):
        """Starts a fresh dockerd in `workdir` (default: a new /tmp/cdk-XXXX) and makes it a
        single-node swarm manager on 127.0.0.1. On failure everything is torn down again."""
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="cdk-", dir="/tmp")
        else:
            os.makedirs(workdir, exist_ok=True)
        engine = cls(workdir)
        try:
            engine.netns.create()
            engine._start_proxy()
            engine._launch()
            engine._swarm_init()
        except BaseException:
            engine.shutdown()
            raise
        return engine

    def _start_proxy(self):
        self._proxy = _ThreadingProxy((self.netns.host_address, 0), _ProxyHandler)
        threading.Thread(target=self._proxy.serve_forever, daemon=True).start()
        self.build_proxy = f"http://{self.netns.host_address}:{self._proxy.server_address[1]}"

    def _launch(self):
        if self.process is not None and self.process.poll() is None:
            raise DockerError("dockerd is already running")
        if os.path.exists(self.socket):  # left by a killed dockerd; would fail the listen
            os.unlink(self.socket)
        command = [DOCKERD, "--storage-driver", "vfs", "--iptables=false", "--bridge=none",
                   "--host", self.host, "--data-root", self.data_root,
                   "--exec-root", self.exec_root, "--pidfile", self.pidfile,
                   # not /etc/docker/daemon.json, which may configure a system dockerd
                   "--config-file", self.config_file,
                   # dockerd uses a running system containerd instead of starting its own
                   "--containerd-namespace", self.containerd_namespace,
                   "--containerd-plugins-namespace", self.containerd_namespace + "-plugins"]
        with open(self.config_file, "w") as f:
            f.write("{}\n")
        log = open(self.log_path, "ab")
        try:
            # A session of its own: Ctrl-C in a terminal must not kill dockerd before
            # shutdown() had the chance to leave the swarm and stop containers in order.
            self.process = subprocess.Popen(self.netns.wrap(command), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DockerError(f"dockerd exited with {self.process.returncode}:\n"
                                  f"{_tail(self.log_path)}")
            try:
                if self.api("GET", "/_ping", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise DockerError(f"dockerd did not answer /_ping within {START_TIMEOUT:.0f} s:\n"
                          f"{_tail(self.log_path)}")

    def _swarm_init(self):
        # Swarm creates the bridge network docker_gwbridge for overlay containers; made first,
        # it gets a Linux interface name of our own (docker's documented way to customise it).
        self.docker("network", "create", "--driver", "bridge",
                    "--opt", f"com.docker.network.bridge.name={self.gwbridge_interface}",
                    "--opt", "com.docker.network.bridge.enable_icc=false",
                    "--opt", "com.docker.network.bridge.enable_ip_masquerade=false",
                    # Ports tasks publish in host mode listen on the namespace's end of the
                    # veth only (docker-proxy), which the host reaches.
                    "--opt", f"com.docker.network.bridge.host_binding_ipv4={self.published_host}",
                    "docker_gwbridge", timeout=60)
        listen = _free_port(socket.SOCK_STREAM)
        data_path = _free_port(socket.SOCK_DGRAM)  # VXLAN; 4789 may be taken by another swarm
        run = self.docker("swarm", "init", "--advertise-addr", "127.0.0.1",
                          "--listen-addr", f"127.0.0.1:{listen}",
                          "--data-path-port", str(data_path), check=False, timeout=60)
        if run.returncode != 0:
            raise DockerError(f"docker swarm init failed: {run.stderr.strip()}\n"
                              f"dockerd log:\n{_tail(self.log_path)}")
        self._wait_swarm_active()

    def _wait_swarm_active(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            status, info = self.api("GET", "/info")
            if status == 200 and isinstance(info, dict):
                state = info.get("Swarm", {}).get("LocalNodeState")
                # ControlAvailable: the manager accepts service calls (raft has a leader).
                if state == "active" and info["Swarm"].get("ControlAvailable"):
                    return
            time.sleep(0.2)
        raise DockerError(f"swarm not active after {timeout:.0f} s (state {state!r}):\n"
                          f"{_tail(self.log_path)}")

    def start(self):
        """Starts dockerd again on the same data-root; the swarm comes back by itself."""
        self._launch()
        self._wait_swarm_active()

    def stop(self):
        """SIGTERM, wait for the exit (SIGKILL after 30 s); the socket is gone afterwards."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        deadline = time.monotonic() + 5
        while os.path.exists(self.socket) and time.monotonic() < deadline:
            time.sleep(0.05)
        if os.path.exists(self.socket):  # killed dockerd: nothing removed it
            os.unlink(self.socket)

    def running(self):
        return self.process is not None and self.process.poll() is None

    def shutdown(self):
        """Removes services, leaves the swarm, stops dockerd, kills leftover shims, unmounts
        and deletes the work directory. Safe to call more than once and after failures."""
        if self.running():
            for step in (self.remove_services, lambda: self.remove_services(label=None),
                         lambda: self.docker("swarm", "leave", "--force", check=False,
                                             timeout=60),
                         lambda: self.remove_network("docker_gwbridge")):
                try:
                    step()
                except Exception:
                    pass  # best effort: stopping dockerd below stops the containers anyway
        seen = self._our_processes()
        self.stop()
        self._kill_leftovers()
        # A shim that exited is a zombie until init reaps it, and has no cmdline to recognise
        # it by any more: wait (briefly) for the ones seen before, so that nothing is left.
        deadline = time.monotonic() + 5
        while any(os.path.exists(f"/proc/{pid}") for pid in seen) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self._unmount_all()
        if os.path.exists(SYSTEM_CONTAINERD) and shutil.which("ctr"):
            # dockerd used the system containerd: drop our (now empty) namespaces from it
            subprocess.run(["ctr", "--address", SYSTEM_CONTAINERD, "namespaces", "rm",
                            self.containerd_namespace, self.containerd_namespace + "-plugins"],
                           capture_output=True, timeout=30)
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
            self._proxy = None
        self.netns.delete()  # the gwbridge interface and the veth pair go with it
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _our_processes(self):
        """Pids of processes whose command line names our work directory or containerd
        namespace: the containerd dockerd started and the shims of our containers (they
        daemonize, so they are not dockerd's children)."""
        pids = []
        markers = (self.workdir.encode() + b"/",
                   b"\0" + self.containerd_namespace.encode() + b"\0")
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
                    if any(m in cmdline for m in markers):
                        pids.append(int(entry))
            except OSError:
                pass
        return pids

    def _kill_leftovers(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # they usually exit by themselves within moments
            if not self._our_processes():
                return
            time.sleep(0.1)
        # Still there: dockerd was killed and nobody stops the containers. Their init
        # processes are the shims' children (killing a pid namespace's init ends the rest).
        ours = self._our_processes()
        for pid in _children_of(ours) + ours:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _unmount_all(self):
        """Lazy umount of whatever is still mounted below the work directory (netns files,
        shm, container rootfs binds), deepest first."""
        prefix = self.workdir + "/"
        try:
            with open("/proc/self/mounts") as f:
                points = [line.split()[1].replace("\\040", " ") for line in f]
        except OSError:
            return
        for point in sorted((p for p in points if p.startswith(prefix)), key=len,
                            reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)

    # ---- talking to the engine -------------------------------------------------------------

    def docker(self, *args, check=True, timeout=120):
        """Runs the docker CLI against this engine; text output captured."""
        command = [DOCKER_CLI, "-H", self.host, *map(str, args)]
        env = dict(os.environ)
        env.pop("DOCKER_HOST", None)
        env.pop("DOCKER_CONTEXT", None)
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        if check and run.returncode != 0:
            raise DockerError(f"{' '.join(command)} exited with {run.returncode}: "
                              f"{run.stderr.strip()}")
        return run

    def api(self, method, path, body=None, timeout=30):
        """One HTTP request on the socket: (status, parsed JSON | None | text). A GET or DELETE
        that loses its connection (a daemon that was just restarted may drop the first ones) is
        sent again, up to three times."""
        for attempt in range(3):
            try:
                return self._api_once(method, path, body, timeout)
            except (http.client.RemoteDisconnected, ConnectionResetError):
                if method not in ("GET", "DELETE") or attempt == 2:
                    raise
                time.sleep(0.5)

    def _api_once(self, method, path, body, timeout):
        conn = _UnixHTTPConnection(self.socket, timeout)
        try:
            headers = {}
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            if not raw:
                return resp.status, None
            text = raw.decode(errors="replace")
            if "json" in (resp.getheader("Content-Type") or ""):
                try:
                    return resp.status, json.loads(text)
                except ValueError:
                    pass
            return resp.status, text
        finally:
            conn.close()

    # ---- cleanup helpers -------------------------------------------------------------------

    def remove_services(self, label=MANAGED_LABEL, timeout=60):
        """Removes every service carrying `label` (all services when None) and waits until
        their containers are gone."""
        query = ""
        if label is not None:
            query = "?filters=" + urllib.parse.quote(json.dumps({"label": [label]}))
        status, services = self.api("GET", f"{API}/services{query}")
        if status != 200:
            raise DockerError(f"listing services: {status} {services}")
        ids = {s["ID"] for s in services}
        for sid in ids:
            status, reply = self.api("DELETE", f"{API}/services/{sid}")
            if status not in (200, 404):
                raise DockerError(f"removing service {sid}: {status} {reply}")
        deadline = time.monotonic() + timeout
        killed, left = set(), []
        while ids and time.monotonic() < deadline:
            status, containers = self.api("GET", f"{API}/containers/json?all=1")
            left = [c for c in containers or []
                    if (c.get("Labels") or {}).get("com.docker.swarm.service.id") in ids]
            if not left:
                return
            # The swarm stops a removed service's containers with SIGTERM and waits out the
            # stop grace period (10 s); busybox httpd as PID 1 ignores SIGTERM. Cleanup has no
            # use for a graceful stop, so kill them right away.
            for c in left:
                if c["State"] == "running" and c["Id"] not in killed:
                    killed.add(c["Id"])
                    self.api("POST", f"{API}/containers/{c['Id']}/kill")
            time.sleep(0.2)
        if left:
            raise DockerError(f"containers of removed services still there after {timeout} s:"
                              f" {[c['Id'][:12] for c in left]}")

    def remove_network(self, name):
        status, reply = self.api("DELETE", f"{API}/networks/{name}")
        if status not in (200, 204, 404):
            raise DockerError(f"removing network {name}: {status} {reply}")

    # ---- test images -----------------------------------------------------------------------

    def build_test_images(self):
        """Imports the test images (skipping those present); returns {key: image name}."""
        if BUSYBOX is None:
            raise DockerError("busybox-static is not installed (scripts/setup installs it)")
        for key, name in IMAGES.items():
            if self.docker("image", "inspect", name, check=False).returncode == 0:
                continue
            if key == "broken":
                tar, cmd, expose = _rootfs_tar(None), BROKEN_CMD, False
            else:
                tar, cmd, expose = _rootfs_tar(f"web v{key[-1]}\n"), HTTPD_CMD, True
            path = os.path.join(self.workdir, f"rootfs-{key}.tar")
            with open(path, "wb") as f:
                f.write(tar)
            changes = ["--change", f"CMD {cmd}"]
            if expose:
                changes += ["--change", "EXPOSE 80"]
            try:
                self.docker("import", *changes, path, name)
            finally:
                os.unlink(path)
        self.images = dict(IMAGES)
        return self.images

    def remove_test_images(self):
        for name in IMAGES.values():
            self.docker("image", "rm", "--force", name, check=False)
        self.images = {}


def _rootfs_tar(index_body):
    """A minimal rootfs: static busybox, a few applet links, /etc for user lookups, /tmp and
    (for the web images) /www/index.html."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_dir(name, mode=0o755):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name, data, mode=0o644):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("bin", "etc", "www", "proc", "sys", "dev"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        with open(BUSYBOX, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        add_file("etc/passwd", b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
        add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        if index_body is not None:
            add_file("www/index.html", index_body.encode())
    return buf.getvalue()
