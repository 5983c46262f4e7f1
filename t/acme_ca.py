"""A real ACME CA for tests: Debian's `pebble` (Let's Encrypt's test CA) with
`pebble-challtestsrv` as its DNS server, so every name resolves to 127.0.0.1 (or to what a test
sets) and HTTP-01 challenges are fetched from the nginx under test.

    ca = Pebble(workdir, http_port=<nginx's HTTP port>).start()
    ca.directory        # https://127.0.0.1:<port>/dir, for acme_directory
    ca.listener_cert    # pebble's own HTTPS certificate, for acme_ca_bundle
    ca.root_pem()       # the root issued certificates chain to (new on every start)
    ca.resolve(name, "127.0.0.9")   # make one name point elsewhere (a failing challenge)
    ca.stop()

Everything listens on 127.0.0.1 ephemeral ports. Pebble validates right away
(PEBBLE_VA_NOSLEEP) and accepts every nonce (PEBBLE_WFE_NONCEREJECT=0), so runs are
deterministic; its certificates are valid for 5 years.
"""

import json
import os
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import free_port, wait_for_port


class Pebble:
    """`netns`: run pebble inside that network namespace instead of the host's (t/netns.py, or
    the test Docker engine's, t/docker_engine.py). `listen_host`: where the ACME API listens
    (default 127.0.0.1; the Docker engine's bridge gateway when a controller in a container must
    reach it). `address`: what every name resolves to for pebble's validation (where nginx's
    HTTP port is)."""

    def __init__(self, workdir, http_port, port=None, netns=None, listen_host="127.0.0.1",
                 address="127.0.0.1"):
        self.netns = netns
        self.listen_host = listen_host
        self.address = address
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.http_port = http_port
        self.port = port or free_port()
        self.management_port = free_port()
        self.dns_port = free_port()
        self.challtestsrv_port = free_port()
        self.listener_cert = self.dir / "pebble-listener.crt"
        self.listener_key = self.dir / "pebble-listener.key"
        self.procs = []
        # Made now: the controller is told to trust it before pebble first starts.
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/CN=pebble",
             "-addext", f"subjectAltName=IP:127.0.0.1,IP:{listen_host},DNS:localhost",
             "-keyout", str(self.listener_key), "-out", str(self.listener_cert)],
            check=True, capture_output=True, timeout=60)

    @property
    def directory(self):
        return f"https://{self.listen_host}:{self.port}/dir"

    def start(self):
        config = self.dir / "pebble.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"{self.listen_host}:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.listener_cert), "privateKey": str(self.listener_key),
            "httpPort": self.http_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
        self._spawn("challtestsrv", [
            "pebble-challtestsrv", "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "",
            "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{self.challtestsrv_port}",
            "-defaultIPv4", self.address, "-defaultIPv6", ""])
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        self._spawn("pebble", ["pebble", "-config", str(config), "-dnsserver",
                               f"127.0.0.1:{self.dns_port}"], env=env)
        deadline = time.monotonic() + 15
        for port in (self.challtestsrv_port, self.port, self.management_port):
            if self.netns is None:
                host = self.listen_host if port == self.port else "127.0.0.1"
                assert wait_for_port(port, deadline, host=host), self.logs()
            else:
                host = self.listen_host if port == self.port else "127.0.0.1"
                assert self.netns.wait_for_port(port, deadline, host=host), self.logs()
        return self

    def _spawn(self, name, argv, env=None):
        log = open(self.dir / f"{name}.log", "ab")
        if self.netns is not None:
            argv = self.netns.wrap(argv)
        self.procs.append((subprocess.Popen(argv, stdout=log, stderr=log, env=env,
                                            stdin=subprocess.DEVNULL), log))

    def logs(self):
        return "\n".join((self.dir / f"{n}.log").read_text(errors="replace")
                         for n in ("challtestsrv", "pebble") if (self.dir / f"{n}.log").exists())

    def _context(self):
        return ssl.create_default_context(cafile=str(self.listener_cert))

    def root_pem(self):
        """The root CA of the certificates this run of pebble issues."""
        if self.netns is not None:
            return subprocess.run(self.netns.wrap(
                ["curl", "-sSf", "--cacert", self.listener_cert,
                 f"https://127.0.0.1:{self.management_port}/roots/0"]),
                capture_output=True, text=True, check=True, timeout=30).stdout
        with urllib.request.urlopen(f"https://127.0.0.1:{self.management_port}/roots/0",
                                    context=self._context(), timeout=10) as r:
            return r.read().decode()

    def root_file(self):
        path = self.dir / "pebble-root.pem"
        path.write_text(self.root_pem())
        return path

    def resolve(self, host, address):
        """Answers A queries for `host` with `address` from now on."""
        body = json.dumps({"host": host, "addresses": [address]}).encode()
        if self.netns is not None:
            subprocess.run(self.netns.wrap(
                ["curl", "-sSf", "-X", "POST", "-d", body.decode(),
                 f"http://127.0.0.1:{self.challtestsrv_port}/add-a"]),
                check=True, capture_output=True, timeout=30)
            return
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{self.challtestsrv_port}/add-a", data=body, method="POST"),
            timeout=10).read()

    def stop(self):
        for proc, log in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            log.close()
        self.procs = []
