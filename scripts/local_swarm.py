#!/usr/bin/python3
"""A private Docker engine in Swarm mode for ./scripts/run, the same one the tests use
(t/docker_engine.py): its own dockerd on a unix socket under /tmp/cdk-*, in a network
namespace of its own, vfs storage, no iptables, plus the local images captain-test/web:1,
captain-test/web:2 and captain-test/broken:1 (made from Debian's busybox-static, nothing
pulled).

Usage: local_swarm.py SOCKET_FILE -- writes the engine's socket path and, on a second line, the
address its published ports are reached at, to SOCKET_FILE once it is ready, then runs until
SIGTERM/SIGINT and tears everything down (services, swarm, dockerd, the namespace).
"""

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "t"))
from docker_engine import DockerEngine  # noqa: E402


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    socket_file = Path(sys.argv[1])
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    engine = DockerEngine.start_private()
    try:
        engine.build_test_images()
        socket_file.write_text(f"{engine.socket}\n{engine.published_host}\n")
        while not stopping:
            signal.pause()
    finally:
        socket_file.unlink(missing_ok=True)
        engine.shutdown()


if __name__ == "__main__":
    main()
