"""Build the hostile layer corpus: small tar / tar+gzip files that try to break out of, or blow up, a layer
apply. Deterministic (fixed mtimes, fixed gzip header). Each case names its expected outcome:
  unsafe  -> UnsafeLayer whose rule contains `rule`
  truncated -> a TruncatedLayer (truncated / corrupt streams) whose message contains `rule`
  error   -> another LabkitError (not UnsafeLayer, not TruncatedLayer) whose message contains `rule`
  ok      -> applied; the tree equals `tree` ({path: "d" | "f:<content>" | "l:<target>"}) and `meta` holds
A case with `lower` layers (tar bytes, bottom first) is an image: the layers below are applied first, the
outcome may come from the image view (a hard link to a lower layer's file that resolves to nothing), and
`tree` is the merged image as `labkit unpack` writes it. A case whose `peer` names a tool is checked
against that tool too (umoci unpacks the same image to the same tree).

Run `python tests/hostile/make_corpus.py OUTDIR` to write the files and corpus.json for other tools
(umoci, GNU tar) to compare against; the tests build the cases in memory.
"""

from __future__ import annotations

import json
import sys
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

BLOCK = 512
MTIME = 1_600_000_000


def member(name: str, type=tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644, linkname: str = "",
           pax: "dict | None" = None, fmt=tarfile.PAX_FORMAT, size: "int | None" = None,
           uid: int = 0, gid: int = 0, devmajor: int = 0, devminor: int = 0) -> bytes:
    """Return one raw tar member: header(s) + data padded to the block size."""
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.mode = mode
    ti.mtime = MTIME
    ti.linkname = linkname
    ti.uid, ti.gid = uid, gid
    ti.devmajor, ti.devminor = devmajor, devminor
    ti.size = len(data) if size is None else size
    if pax:
        ti.pax_headers = dict(pax)
    out = ti.tobuf(fmt, "utf-8", "surrogateescape") + data
    if len(data) % BLOCK:
        out += b"\0" * (BLOCK - len(data) % BLOCK)
    return out


def file(name, data=b"", **kw):
    return member(name, tarfile.REGTYPE, data, **kw)


def dir_(name, mode=0o755, **kw):
    return member(name, tarfile.DIRTYPE, mode=mode, **kw)


def symlink(name, target, **kw):
    return member(name, tarfile.SYMTYPE, linkname=target, mode=0o777, **kw)


def hardlink(name, target, **kw):
    return member(name, tarfile.LNKTYPE, linkname=target, **kw)


def pax_records(records: dict) -> bytes:
    """Return `records` encoded as PAX extended-header records ("<len> key=value\\n")."""
    body = b""
    for k, v in records.items():
        rec = f" {k}={v}\n".encode()
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n = len(str(n)) + len(rec)
        body += str(n).encode() + rec
    return body


def global_header(records: dict) -> bytes:
    """Return a PAX global extended header ('g')."""
    return member("pax_global_header", tarfile.XGLTYPE, pax_records(records))


def pax_header(records: dict) -> bytes:
    """Return a stand-alone PAX extended header ('x') for whatever member follows it."""
    return member("././@PaxHeader", tarfile.XHDTYPE, pax_records(records))


def long_name(name: str) -> bytes:
    """Return a stand-alone GNU long-name header ('L') for whatever member follows it."""
    return member("././@LongLink", tarfile.GNUTYPE_LONGNAME, name.encode() + b"\0", fmt=tarfile.GNU_FORMAT)


def _checksum(buf: bytearray) -> None:
    buf[148:156] = b" " * 8
    chk = sum(buf[:BLOCK])
    buf[148:155] = b"%06o\0" % chk


def gnu_sparse(name: str, realsize: int, regions: list) -> bytes:
    """Return an old-GNU sparse member ('S') with up to 4 (offset, data) regions and declared `realsize`."""
    data = b"".join(d for _, d in regions)
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime = len(data), MTIME
    buf = bytearray(ti.tobuf(tarfile.GNU_FORMAT))
    buf[156:157] = b"S"
    for i, (off, d) in enumerate(regions[:4]):
        pos = 386 + i * 24
        buf[pos:pos + 12] = tarfile.itn(off, 12, tarfile.GNU_FORMAT)
        buf[pos + 12:pos + 24] = tarfile.itn(len(d), 12, tarfile.GNU_FORMAT)
    buf[482] = 0
    buf[483:495] = tarfile.itn(realsize, 12, tarfile.GNU_FORMAT)
    _checksum(buf)
    pad = (BLOCK - len(data) % BLOCK) % BLOCK
    return bytes(buf) + data + b"\0" * pad


def tar(*members: bytes, end: bool = True) -> bytes:
    """Return the concatenated members plus the end-of-archive marker."""
    return b"".join(members) + (b"\0" * (2 * BLOCK) if end else b"")


def gz(data: bytes) -> bytes:
    """Return `data` gzipped with a fixed header (mtime 0, no name)."""
    z = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = z.compress(data) + z.flush()
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body
            + (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "little") + (len(data) & 0xFFFFFFFF).to_bytes(4, "little"))


def _corrupt_second_header() -> bytes:
    data = bytearray(tar(file("a", b"1"), file("b", b"2")))
    data[2 * BLOCK + 148] ^= 0x11          # header of "b": checksum no longer matches
    return bytes(data)


def _bad_mtime_second_header() -> bytes:
    data = bytearray(tar(file("a", b"1"), file("b", b"2")))
    hdr = bytearray(data[2 * BLOCK:3 * BLOCK])
    hdr[136:148] = b"zzzzzzzzzzz\0"      # not octal; the checksum is recomputed so only the mtime is wrong
    _checksum(hdr)
    data[2 * BLOCK:3 * BLOCK] = hdr
    return bytes(data)


def _old_dir(name: str, data: bytes) -> bytes:
    """Return an old-style (type '\\0', name ending in '/') ustar entry carrying `data`."""
    return member(name, tarfile.AREGTYPE, data, fmt=tarfile.USTAR_FORMAT)


@dataclass
class Case:
    name: str
    data: bytes
    expect: str                      # "unsafe" | "truncated" | "error" | "ok"
    rule: str = ""
    tree: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)      # AppliedLayer attribute -> expected value
    limits: dict = field(default_factory=dict)    # Limits overrides
    gzip: bool = False
    lower: tuple = ()                             # tar bytes of the layers below, bottom first
    peer: str = ""                                # a tool that must agree on an accepted case ("umoci")

    @property
    def filename(self) -> str:
        return self.name + (".tar.gz" if self.gzip else ".tar")


def build_corpus() -> list[Case]:
    """Return every hostile case, in a fixed order."""
    C = Case
    big_zero = tar(file("zeros", b"\0" * (4 << 20)))
    cases = [
        # --- names ---------------------------------------------------------------------------------
        C("traversal-dotdot", tar(file("../x", b"evil")), "unsafe", "escapes the layer root"),
        C("traversal-nested", tar(dir_("a"), file("a/../../x", b"evil")), "unsafe", "escapes the layer root"),
        C("absolute-name", tar(file("/etc/x", b"abs")), "ok", tree={"etc": "d", "etc/x": "f:abs"},
          meta={"implicit_dirs": ["etc"]}),
        C("absolute-dotdot", tar(file("/../x", b"clamped")), "ok", tree={"x": "f:clamped"}),
        C("pax-path-escape", tar(file("innocent", b"evil", pax={"path": "../../evil"})), "unsafe",
          "escapes the layer root"),
        C("pax-linkpath-escape", tar(file("t", b"1"), hardlink("h", "t", pax={"linkpath": "../../etc/passwd"})),
          "unsafe", "escapes the layer root"),
        C("pax-global-path", tar(global_header({"path": "../../evil"}), file("a", b"1")), "unsafe",
          "PAX global header"),
        C("pax-global-comment", tar(global_header({"comment": "git-commit-id"}), file("a", b"1")), "ok",
          tree={"a": "f:1"}),
        # names are bytes (Go strings in docker, bytes on Linux): latin-1 from an old tar is kept as it is
        C("non-utf8-name", tar(file("bad-\udcff-name", b"x", fmt=tarfile.USTAR_FORMAT)), "ok",
          tree={"bad-\udcff-name": "f:x"}, peer="umoci"),
        C("latin1-names", tar(dir_("r\udce9pertoire", fmt=tarfile.USTAR_FORMAT),
                              file("r\udce9pertoire/caf\udce9.txt", b"latin-1", fmt=tarfile.USTAR_FORMAT),
                              symlink("lien", "r\udce9pertoire/caf\udce9.txt", fmt=tarfile.USTAR_FORMAT),
                              hardlink("d\udce9j\udce0", "r\udce9pertoire/caf\udce9.txt", fmt=tarfile.USTAR_FORMAT),
                              file("pax-\udcff", b"pax", pax={"path": "pax-\udcff-path"})), "ok",
          tree={"r\udce9pertoire": "d", "r\udce9pertoire/caf\udce9.txt": "f:latin-1",
                "lien": "l:r\udce9pertoire/caf\udce9.txt", "d\udce9j\udce0": "f:latin-1", "pax-\udcff-path": "f:pax"},
          peer="umoci"),
        C("overlong-name", tar(file("n" * 300, b"x")), "unsafe", "max_name_length"),
        C("overlong-path", tar(file("/".join(["d" * 200] * 25), b"x")), "unsafe", "max_path_length"),
        C("pax-nul-in-path", tar(file("a", b"1", pax={"path": "x\x00y"})), "unsafe", "NUL byte"),
        C("pax-huge-mtime", tar(file("a", b"1", pax={"mtime": "1e300"})), "error", "truncated or corrupt"),
        C("root-dir-entry", tar(dir_("./", mode=0o750), file("./a", b"1")), "ok", tree={"a": "f:1"},
          meta={"root": {"mode": 0o750, "uid": 0, "gid": 0, "mtime": MTIME}}),
        C("unsupported-type", tar(member("weird", b"Z", b"")), "unsafe", "unsupported tar entry type"),
        # --- symlinks ------------------------------------------------------------------------------
        C("symlink-relative-escape", tar(symlink("a", "../../etc"), file("a/passwd", b"evil")), "unsafe",
          "escapes the layer root"),
        C("symlink-absolute-then-write", tar(symlink("a", "/etc"), file("a/passwd", b"evil")), "unsafe",
          "goes through the symlink 'a'"),
        C("symlink-replaces-dir", tar(dir_("d"), file("d/ok", b"1"), symlink("d", "/etc"),
                                      file("d/passwd", b"evil")), "unsafe", "goes through the symlink 'd'"),
        C("root-is-symlink", tar(symlink(".", "/etc"), file("passwd", b"evil")), "unsafe", "layer root"),
        C("root-slash-is-symlink", tar(symlink("./", "/")), "unsafe", "layer root"),
        C("symlink-loop", tar(symlink("a", "b"), symlink("b", "a")), "ok", tree={"a": "l:b", "b": "l:a"}),
        C("symlink-loop-write", tar(symlink("a", "b"), symlink("b", "a"), file("a/x", b"1")), "unsafe",
          "goes through the symlink"),
        C("symlink-absolute-is-data", tar(dir_("bin"), symlink("bin/sh", "/bin/busybox"),
                                          symlink("bin/up", "../bin/sh")), "ok",
          tree={"bin": "d", "bin/sh": "l:/bin/busybox", "bin/up": "l:../bin/sh"}),
        # --- hard links ----------------------------------------------------------------------------
        C("hardlink-outside", tar(hardlink("h", "../../etc/passwd")), "unsafe", "escapes the layer root"),
        # an absolute target names a path of the image (no layer below holds /etc/passwd here), never the host's
        C("hardlink-absolute-host", tar(hardlink("h", "/etc/passwd")), "unsafe", "not an earlier file"),
        C("hardlink-to-dir", tar(dir_("d"), hardlink("h", "d")), "unsafe", "is a directory"),
        C("hardlink-before-target", tar(hardlink("h", "t"), file("t", b"1")), "unsafe", "not an earlier file"),
        C("hardlink-to-symlink", tar(symlink("s", "/etc/shadow"), hardlink("h", "s")), "unsafe", "is a symlink"),
        C("hardlink-to-itself", tar(file("t", b"1"), hardlink("t", "t")), "unsafe", "itself"),
        C("hardlink-ok", tar(file("t", b"same"), hardlink("h", "t"), hardlink("h2", "/t")), "ok",
          tree={"t": "f:same", "h": "f:same", "h2": "f:same"}, peer="umoci"),
        # a hard link to a LOWER layer's file (OCI image spec; containerd and umoci apply it): copied up, linked
        C("hardlink-to-lower-layer", tar(dir_("bin"), hardlink("bin/sh", "bin/busybox"),
                                         hardlink("usr/bin/env", "/bin/busybox")), "ok",
          tree={"bin": "d", "bin/busybox": "f:BB", "bin/sh": "f:BB", "bin/ls": "f:BB", "usr": "d",
                "usr/bin": "d", "usr/bin/env": "f:BB"},
          lower=(tar(dir_("bin"), file("bin/busybox", b"BB", mode=0o755), hardlink("bin/ls", "bin/busybox")),),
          peer="umoci"),
        C("hardlink-to-lower-through-lower-symlink", tar(hardlink("sh", "/lib/busybox")), "ok",
          tree={"usr": "d", "usr/lib": "d", "usr/lib/busybox": "f:BB", "lib": "l:usr/lib", "sh": "f:BB"},
          lower=(tar(dir_("usr"), dir_("usr/lib"), file("usr/lib/busybox", b"BB"), symlink("lib", "usr/lib")),),
          peer="umoci"),
        C("hardlink-to-lower-missing", tar(hardlink("bin/sh", "bin/bash")), "unsafe", "not an earlier file",
          lower=(tar(dir_("bin"), file("bin/busybox", b"BB")),)),
        C("hardlink-to-lower-dir", tar(hardlink("x", "bin")), "unsafe", "below it is a dir",
          lower=(tar(dir_("bin"), file("bin/busybox", b"BB")),)),
        C("hardlink-to-lower-symlink", tar(hardlink("x", "bin/sh")), "unsafe", "below it is a symlink",
          lower=(tar(dir_("bin"), file("bin/busybox", b"BB"), symlink("bin/sh", "busybox")),)),
        C("hardlink-to-lower-deleted", tar(file("bin/.wh.busybox"), hardlink("bin/sh", "bin/busybox")), "unsafe",
          "this layer deletes it", lower=(tar(dir_("bin"), file("bin/busybox", b"BB")),)),
        C("hardlink-to-lower-via-own-symlink", tar(symlink("l", "/bin"), hardlink("x", "l/busybox")), "unsafe",
          "goes through the symlink 'l'", lower=(tar(dir_("bin"), file("bin/busybox", b"BB")),)),
        C("hardlink-to-lower-then-below-it", tar(hardlink("x", "bin/busybox"), file("bin/busybox/y", b"1")),
          "unsafe", "not a directory", lower=(tar(dir_("bin"), file("bin/busybox", b"BB")),)),
        # --- whiteouts -----------------------------------------------------------------------------
        C("whiteout-empty", tar(file(".wh.")), "unsafe", "invalid whiteout name"),
        C("whiteout-dot", tar(file(".wh..")), "unsafe", "invalid whiteout name"),
        C("whiteout-dotdot", tar(file(".wh...")), "unsafe", "invalid whiteout name"),
        C("whiteout-nested-dotdot", tar(dir_("a"), file("a/.wh...")), "unsafe", "invalid whiteout name"),
        C("whiteout-through-symlink", tar(symlink("l", "/etc"), file("l/.wh.passwd")), "unsafe",
          "goes through the symlink 'l'"),
        C("whiteout-and-opaque", tar(dir_("etc"), file("etc/.wh.passwd"), dir_("var"), file("var/.wh..wh..opq"),
                                     file("var/new", b"n"), file("usr/.wh..wh..opq")), "ok",
          tree={"etc": "d", "var": "d", "var/new": "f:n", "usr": "d"},
          meta={"whiteouts": ["etc/passwd"], "opaque_dirs": ["var", "usr"]}),
        C("aufs-metadata-skipped", tar(dir_(".wh..wh.plnk"), file(".wh..wh.plnk/123.456", b"x"),
                                       file("a", b"1")), "ok", tree={"a": "f:1"}),
        # --- special files -------------------------------------------------------------------------
        C("device-nodes", tar(dir_("dev"), member("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
                              member("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0),
                              member("dev/fifo", tarfile.FIFOTYPE, mode=0o600)), "ok",
          tree={"dev": "d"},
          meta={"devices": {"dev/null": {"type": "char", "major": 1, "minor": 3, "mode": 0o666, "uid": 0,
                                         "gid": 0, "mtime": MTIME},
                            "dev/sda": {"type": "block", "major": 8, "minor": 0, "mode": 0o660, "uid": 0,
                                        "gid": 0, "mtime": MTIME},
                            "dev/fifo": {"type": "fifo", "major": 0, "minor": 0, "mode": 0o600, "uid": 0,
                                         "gid": 0, "mtime": MTIME}}}),
        C("setuid-and-owner", tar(file("su", b"#!", mode=0o4755, uid=0, gid=0),
                                  dir_("tmp", mode=0o1777), file("home", b"h", uid=1000, gid=1000)), "ok",
          tree={"su": "f:#!", "tmp": "d", "home": "f:h"},
          meta={"modes": {"su": 0o4755, "tmp": 0o1777}, "owners": {"home": [1000, 1000]}}),
        # --- bombs and limits ----------------------------------------------------------------------
        C("sparse-bomb", tar(gnu_sparse("bomb", 1 << 40, [(0, b"x")])), "unsafe", "max_file_size"),
        C("sparse-map-outside-size", tar(gnu_sparse("s", 10, [(100, b"x")])), "unsafe", "sparse map"),
        C("sparse-ok", tar(gnu_sparse("s", 1 << 20, [(0, b"head"), ((1 << 20) - 4, b"tail")])), "ok",
          tree={"s": "f:" + "head" + "\0" * ((1 << 20) - 8) + "tail"}),
        C("gzip-bomb", gz(big_zero), "unsafe", "max_layer_bytes", limits={"max_layer_bytes": 1 << 20}, gzip=True),
        C("gzip-zero-tail-bomb", gz(tar(file("a", b"1")) + b"\0" * (4 << 20)), "unsafe", "max_layer_bytes",
          limits={"max_layer_bytes": 1 << 20}, gzip=True),
        C("too-many-entries", tar(*(file(f"f{i}") for i in range(20))), "unsafe", "max_entries",
          limits={"max_entries": 10}),
        C("huge-pax-header", tar(file("a", b"1", pax={"comment": "c" * 4096})), "unsafe", "max_header_bytes",
          limits={"max_header_bytes": 1024}),
        # --- replacement rules ---------------------------------------------------------------------
        C("duplicate-entries", tar(file("a", b"first"), file("a", b"second")), "ok", tree={"a": "f:second"}),
        C("dir-then-file", tar(dir_("d"), file("d/x", b"1"), file("d", b"now a file")), "ok",
          tree={"d": "f:now a file"}),
        C("file-then-dir", tar(file("f", b"1"), dir_("f"), file("f/y", b"2")), "ok", tree={"f": "d", "f/y": "f:2"}),
        C("entry-below-file", tar(file("f", b"1"), file("f/x", b"2")), "unsafe", "not a directory"),
        # --- corrupt streams -----------------------------------------------------------------------
        C("truncated-tar", tar(file("a", b"x" * 5000))[:2048], "truncated", "truncated"),
        C("truncated-gzip", gz(tar(file("a", bytes(range(256)) * 40)))[:300], "truncated", "truncated", gzip=True),
        C("missing-end-marker", tar(file("a", b"1"), end=False), "truncated", "end-of-archive"),
        C("corrupt-header", _corrupt_second_header(), "truncated", "invalid tar header"),
        C("pax-size-disagrees", tar(file("a", b"short", pax={"size": "700"}), file("b", b"2")), "unsafe",
          "PAX size"),
        C("empty-stream", b"", "truncated", "end-of-archive"),
        # --- header grammar (found by hand against tarfile on 3.10-3.13, kept here) ------------------
        C("two-pax-headers", tar(pax_header({"comment": "one"}), file("a", b"1", pax={"comment": "two"}),
                                 file("b", b"2")), "unsafe", "two PAX headers for one member"),
        C("two-pax-headers-path", tar(pax_header({"path": "evil"}), file("a", b"1", pax={"path": "good"})),
          "unsafe", "two PAX headers for one member"),
        C("two-gnu-long-names", tar(long_name("x"), long_name("y"), file("a", b"1")), "unsafe",
          "two GNU long-name headers"),
        C("pax-size-on-sparse", tar(file("s", b"data", pax={"GNU.sparse.map": "0,4", "GNU.sparse.size": "10",
                                                            "size": "4"})), "unsafe",
          "PAX size record on a sparse member"),
        C("pax-size-invalid", tar(file("a", b"1", pax={"size": "1_0"})), "unsafe", "invalid PAX size record"),
        C("pax-size-on-dir", tar(dir_("d", pax={"size": "700"}), file("d/f", b"1")), "ok",
          tree={"d": "d", "d/f": "f:1"}),
        C("pax-realsize-on-regular", tar(file("a", b"hello", pax={"GNU.sparse.realsize": "3"}), file("b", b"2")),
          "unsafe", "ambiguously"),
        C("old-dir-entry-empty", tar(_old_dir("d/", b""), file("d/f", b"1")), "ok",
          tree={"d": "d", "d/f": "f:1"}),
        C("old-dir-entry-with-data", tar(_old_dir("x/", b"hidden"), file("x/f", b"1")), "unsafe",
          "old-style directory entry with data"),
        C("global-between-pax-and-member", tar(pax_header({"comment": "x"}), global_header({"comment": "c"}),
                                               file("a", b"1")), "unsafe",
          "PAX global header between a member's extension headers"),
        C("global-between-longname-and-member", tar(long_name("n" * 120), global_header({"comment": "c"}),
                                                    file("a", b"1")), "unsafe",
          "PAX global header between a member's extension headers"),
        C("bad-mtime-field", _bad_mtime_second_header(), "truncated",
          "invalid tar header at offset 1024 (bad number field)"),
        C("malformed-pax-records", tar(member("pax", tarfile.XHDTYPE, b"12 path=abc\n7 x\n"), file("a", b"1")),
          "truncated", "malformed PAX records"),
        C("huge-gnu-long-name", tar(member("././@LongLink", tarfile.GNUTYPE_LONGNAME, b"n" * 5000),
                                    file("a", b"1")), "unsafe", "larger than max_header_bytes=4096",
          limits={"max_header_bytes": 4096}),
        # --- stream ends -----------------------------------------------------------------------------
        C("data-past-end", tar(file("a", b"x" * 5000))[:BLOCK + 1000], "truncated", "ends inside a member"),
        C("data-swallows-end-marker", tar(file("a", b"1", size=5000)[:2 * BLOCK]), "truncated",
          "ends inside a member"),
        C("sparse-data-past-end", tar(gnu_sparse("s", 1 << 16, [(0, b"a" * 600), (1 << 15, b"b" * 600)]),
                                      end=False)[:3 * BLOCK], "truncated", "ends inside a member"),
        C("end-inside-header", tar(file("a", b"1"), end=False) + b"x" * 100, "truncated", "ends inside a header"),
        C("extension-header-then-end", tar(pax_header({"comment": "x"})), "truncated",
          "extension header not followed by a member"),
        C("garbage-stream", b"hello world" * 100, "truncated", "bad checksum"),
        C("one-zero-block-end", tar(file("a", b"1"), end=False) + b"\0" * BLOCK, "ok", tree={"a": "f:1"}),
        C("junk-after-end-marker", tar(file("a", b"1")) + b"junk" * 300, "ok", tree={"a": "f:1"}),
        C("only-end-marker", b"\0" * (2 * BLOCK), "ok", tree={}),
    ]
    return cases


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for c in build_corpus():
        (out / c.filename).write_bytes(c.data)
        lower = []
        for i, data in enumerate(c.lower):
            lower.append(f"{c.name}.lower-{i}.tar")
            (out / lower[-1]).write_bytes(data)
        index.append({"file": c.filename, "lower": lower, "expect": c.expect, "rule": c.rule, "limits": c.limits})
    (out / "corpus.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus"))
