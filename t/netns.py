"""A private network namespace for a test that needs well-known ports (80, 443, 3000) or host
names of its own: `ip netns add` gives it a loopback of its own, and /etc/netns/<name>/hosts
becomes /etc/hosts for every process started in it (`ip netns exec` bind-mounts it), so names
resolve there without touching the machine's /etc/hosts or DNS.

    with NetNs(hosts={"captain.setup.test": "127.0.0.1"}) as ns:
        subprocess.run(ns.wrap(["curl", "http://captain.setup.test/"]))

Needs root (as the private dockerd does). Nothing in it is reachable from outside.
"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path


class NetNs:
    def __init__(self, hosts=None):
        self.name = f"captain-t-{uuid.uuid4().hex[:8]}"
        self.hosts = {"localhost": "127.0.0.1", **(hosts or {})}
        self.etc = Path("/etc/netns") / self.name

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True,
                       timeout=30)
        try:
            subprocess.run(self.wrap(["ip", "link", "set", "lo", "up"]), check=True,
                           capture_output=True, timeout=30)
            self.etc.mkdir(parents=True, exist_ok=True)
            (self.etc / "hosts").write_text(
                "".join(f"{address} {name}\n" for name, address in self.hosts.items()))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wrap(self, argv):
        return ["ip", "netns", "exec", self.name, *map(str, argv)]

    def wait_for_port(self, port, deadline, host="127.0.0.1"):
        """Whether host:port in the namespace accepts a connection before `deadline`."""
        import time
        while time.monotonic() < deadline:
            probe = subprocess.run(self.wrap(
                ["bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}"]), capture_output=True,
                timeout=30)
            if probe.returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def forward(self, port, target_port):
        """Listens on 127.0.0.1:`port` inside the namespace and relays each connection to
        127.0.0.1:`target_port` outside it (this process's own namespace), so a client in the
        namespace reaches a server of the test on a well-known port. A socket keeps the
        namespace it was made in: the listener is made after setns() into ours, then this
        thread goes back."""
        import ctypes
        import socket
        import threading
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_NEWNET = 0x40000000
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        theirs = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(theirs, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the test namespace")
            try:
                listener = socket.create_server(("127.0.0.1", port))
            finally:
                if libc.setns(own, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(own)
            os.close(theirs)

        def pipe(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        def serve():
            while True:
                try:
                    client, _ = listener.accept()
                except OSError:
                    return
                upstream = socket.create_connection(("127.0.0.1", target_port), timeout=30)
                upstream.settimeout(None)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pipe, args=(a, b), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        self._listeners = getattr(self, "_listeners", []) + [listener]
        return listener

    def pids(self):
        out = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True,
                             timeout=30).stdout
        return [int(p) for p in out.split()]

    def __exit__(self, *exc):
        for listener in getattr(self, "_listeners", []):
            listener.close()
        for pid in self.pids():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        shutil.rmtree(self.etc, ignore_errors=True)
