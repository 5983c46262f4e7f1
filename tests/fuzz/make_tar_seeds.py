#!/usr/bin/env python3
"""Writes the seed tars of fuzz_tar_unpack into corpus/fuzz_tar_unpack/ (checked in; rerun only
to change them). Small on purpose: the end-of-archive padding is cut to the two zero blocks."""
import gzip
import io
import os
import tarfile

tarfile.RECORDSIZE = 2 * tarfile.BLOCKSIZE  # no padding to 10 KiB: smaller seeds, faster fuzzing
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_tar_unpack")


def member(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.size = kind, mode, link, len(data)
    info.mtime = 1767225600
    return info, io.BytesIO(data) if kind == tarfile.REGTYPE else None


def write(name, members, fmt=tarfile.USTAR_FORMAT, gz=False):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in members:
            if data:
                data.seek(0)  # a member list may be written twice (plain and gzip)
            tar.addfile(info, data)
    raw = buffer.getvalue()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(gzip.compress(raw, mtime=0) if gz else raw)


definition = b'{"schemaVersion": 2, "dockerfilePath": "./Dockerfile"}\n'
app = [
    member("./", tarfile.DIRTYPE, mode=0o755),
    member("./captain-definition", data=definition),
    member("./Dockerfile", data=b"FROM busybox\nCOPY . /app\n"),
    member("./src/server.js", data=b"console.log('hi')\n", mode=0o4755),
]
os.makedirs(OUT, exist_ok=True)
write("node_app", app)
write("node_app.tar.gz", app, gz=True)
write("links_pax", [
    member("site/" + "long-directory-name-" * 6 + "/index.html", data=b"<p>hi</p>\n"),
    member("site/current", tarfile.SYMTYPE, link="long-directory-name-" * 6),
    member("site/up", tarfile.SYMTYPE, link="../site/current"),
    member("site/copy.html", tarfile.LNKTYPE, link="site/" + "long-directory-name-" * 6 + "/index.html"),
], fmt=tarfile.PAX_FORMAT)
# Each refused entry in a seed of its own, after a good one: a refusal ends the unpacking.
ok = member("README", data=b"hello\n")
write("dot_dot_name", [ok, member("../outside", data=b"x")], fmt=tarfile.GNU_FORMAT)
write("absolute_symlink", [ok, member("abs", tarfile.SYMTYPE, link="/etc")])
write("symlink_climbs", [ok, member("dir/link", tarfile.SYMTYPE, link="a/../..")])
write("fifo", [ok, member("fifo", tarfile.FIFOTYPE)])
write("device", [ok, member("dev", tarfile.CHRTYPE)])
write("write_through_symlink", [
    member("l", tarfile.SYMTYPE, link="."),
    member("l/file", data=b"through a symlink"),
])
