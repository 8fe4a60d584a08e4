"""Recipes for the lab's stand-in images: every image "Understanding Docker Images" names, as layer entries.

Pure data + small deterministic generators: no disk, no network, no clock. The same recipes give the same
uncompressed layer tars (diff IDs) and the same image configs on every machine; build.py turns them into
the shipped OCI layout. File contents that only need a size are filled from sha256 counters
(`filler`), mostly compressible so the package stays small while sizes still tell the shared-layer story.

Repositories use Docker Hub paths (`library/debian`, `hcscompany/clock`): the lab registry serves them as
the docker.io mirror. Dates sit where the lab text's CREATED column puts them relative to LAB_NOW.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Mapping

from ..layers.writer import Entry
from ..oci.keys import LABEL_AUTOMATED, LABEL_DESCRIPTION, LABEL_OFFICIAL, LABEL_STAND_IN, LABEL_STARS


# --- data model ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Layer:
    """One filesystem layer and the history step that made it (identity = the object: shared by reuse)."""

    key: str
    entries: tuple[Entry, ...]
    created: str
    created_by: str


@dataclass(frozen=True)
class Step:
    """A history step that made no layer (CMD, ENV, LABEL, ...): empty_layer true."""

    created: str
    created_by: str


@dataclass(frozen=True, eq=False)
class Image:
    """One image for one platform: its steps (Layers and Steps, oldest first) and its runtime config."""

    key: str
    steps: tuple
    created: str
    config: Mapping
    architecture: str = "amd64"
    os: str = "linux"
    variant: str = ""
    author: str = ""

    @property
    def layers(self) -> list[Layer]:
        """Return the image's layers, bottom first."""
        return [s for s in self.steps if isinstance(s, Layer)]

    def history(self) -> list[dict]:
        """Return the config's history entries, oldest first."""
        out = []
        for s in self.steps:
            entry = {"created": s.created, "created_by": s.created_by}
            if isinstance(s, Step):
                entry["empty_layer"] = True
            out.append(entry)
        return out


@dataclass(frozen=True)
class Search:
    """What Docker Hub's search shows for a repository."""

    description: str
    stars: int
    official: bool = False
    automated: bool = False


@dataclass(frozen=True, eq=False)
class Repository:
    """A repository of the lab registry: tag -> Image, or tag -> tuple of Images (an index, one per platform)."""

    path: str
    tags: Mapping[str, object]
    search: Search

    @property
    def familiar(self) -> str:
        """Return the name as docker shows it ("debian", "hcscompany/clock")."""
        return self.path.removeprefix("library/")


# --- helpers --------------------------------------------------------------------------------------------

def epoch(text: str) -> int:
    """Return the Unix time of an RFC 3339 UTC text ("2016-10-14T18:32:07Z")."""
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def filler(seed: str, size: int, head: int = 64) -> bytes:
    """Return `size` deterministic bytes: 4 KiB pages of `head` hashed bytes and a seed-wide repeated body.

    `head` tunes compressibility (64: about 40x with gzip; 4096: incompressible)."""
    if size <= 0:
        return b""
    root = hashlib.sha256(seed.encode()).digest()
    # the body is shared by every seed of one family ("debian:bash", "debian:ls"): files packed next to
    # each other in a layer compress against each other, as real binaries of one distribution partly do
    family = hashlib.sha256(seed.split(":", 1)[0].encode()).digest()
    body = b"".join(hashlib.sha256(family + b"b" + i.to_bytes(4, "big")).digest() for i in range(128))
    head = max(32, min(4096, head - head % 32))
    pages = []
    total = 0
    i = 0
    while total < size:
        h = b"".join(hashlib.sha256(root + b"p" + i.to_bytes(4, "big") + j.to_bytes(2, "big")).digest()
                     for j in range(head // 32))
        page = h + body[head:]
        pages.append(page)
        total += len(page)
        i += 1
    return b"".join(pages)[:size]


_ELF_MACHINE = {"amd64": b"\x3e\x00", "arm64": b"\xb7\x00"}


def elf(seed: str, size: int, arch: str = "amd64") -> bytes:
    """Return a fake ELF executable of `size` bytes (right magic and machine, filler after the header)."""
    header = (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x03\x00" + _ELF_MACHINE.get(arch, b"\x00\x00")
              + b"\x01\x00\x00\x00")
    return header + filler(f"elf:{arch}:{seed}", max(0, size - len(header)))


_ZIP_TIME = (2016, 12, 1, 0, 0, 0)


def jar(files: Mapping[str, bytes], manifest: str = "") -> bytes:
    """Return a deterministic JAR (a stored zip: no deflate, so the bytes do not depend on zlib)."""
    buf = io.BytesIO()
    mf = "Manifest-Version: 1.0\r\nCreated-By: labkit stand-in\r\n" + manifest + "\r\n"
    items = [("META-INF/MANIFEST.MF", mf.encode())] + sorted(files.items())
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.create_system = 3
            info.create_version = info.extract_version = 20
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, data)
    return buf.getvalue()


def java_class(name: str, size: int) -> bytes:
    """Return a fake Java class file (CAFEBABE, Java 8 version) of about `size` bytes."""
    head = b"\xca\xfe\xba\xbe\x00\x00\x00\x34"
    return head + filler(f"class:{name}", max(0, size - len(head)), head=256)


def stamp(entries: Iterable[Entry], when: str) -> tuple[Entry, ...]:
    """Return the entries with mtime set to `when` (files in a layer carry the time the step ran)."""
    t = epoch(when)
    out = []
    for e in entries:
        out.append(Entry(e.path, e.kind, e.data, e.mode, e.linkname, t, e.uid, e.gid, e.source))
    return tuple(out)


def layer(key: str, when: str, created_by: str, entries: Iterable[Entry]) -> Layer:
    """Return a Layer whose entries carry the step's time."""
    return Layer(key, stamp(entries, when), when, created_by)


def add_file_step(diff_seed: str) -> str:
    """Return docker's history line for `ADD file:<hash> in /` (the hash is the source tar's, here a seed's)."""
    return f"/bin/sh -c #(nop) ADD file:{hashlib.sha256(diff_seed.encode()).hexdigest()} in / "


def nop(instruction: str) -> str:
    """Return docker's history line for a metadata-only instruction (`#(nop)  CMD [...]`)."""
    return f"/bin/sh -c #(nop)  {instruction}"


def exec_form(words: Iterable[str]) -> str:
    """Return an exec-form command as docker's history prints it: `["npm" "start"]` (no commas)."""
    return "[" + " ".join(f'"{w}"' for w in words) + "]"


def F(path: str, data: "bytes | str" = b"", mode: "int | None" = None, uid: int = 0, gid: int = 0) -> Entry:
    """Return a file entry (text is UTF-8 encoded)."""
    return Entry(path, "file", data.encode() if isinstance(data, str) else data, mode, uid=uid, gid=gid)


def D(path: str, mode: "int | None" = None, uid: int = 0, gid: int = 0) -> Entry:
    """Return a directory entry."""
    return Entry(path, "dir", mode=mode, uid=uid, gid=gid)


def L(path: str, target: str) -> Entry:
    """Return a symlink entry."""
    return Entry(path, "symlink", linkname=target)


def H(path: str, target: str) -> Entry:
    """Return a hard link entry to `target`, a file of the same layer."""
    return Entry(path, "hardlink", linkname=target)


def W(path: str) -> Entry:
    """Return a whiteout: `path` of a lower layer is deleted."""
    return Entry(path, "whiteout")


def O(path: str) -> Entry:
    """Return an opaque-directory marker: the lower layers' contents of `path` are hidden."""
    return Entry(path, "opaque")


def dirs(*paths: str) -> list[Entry]:
    """Return directory entries for `paths` and all their parents."""
    seen: dict[str, Entry] = {}
    for p in paths:
        parts = p.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            seen.setdefault(sub, D(sub))
    return list(seen.values())


def os_release(**fields: str) -> str:
    """Return /etc/os-release text with the fields in the given order."""
    return "".join(f'{k}="{v}"\n' if " " in v or "/" in v or "(" in v else f"{k}={v}\n" for k, v in fields.items())


def stand_in_labels(what: str, search: Search, extra: "Mapping[str, str] | None" = None) -> dict:
    """Return the labels every lab image carries: the stand-in note and the search fields."""
    labels = {
        LABEL_STAND_IN: f"labkit lab stand-in for {what}: small reproducible files, not the real image",
        LABEL_DESCRIPTION: search.description,
        LABEL_STARS: str(search.stars),
        LABEL_OFFICIAL: "true" if search.official else "false",
        LABEL_AUTOMATED: "true" if search.automated else "false",
    }
    labels.update(extra or {})
    return labels


def config(search: Search, what: str, *, cmd=None, entrypoint=None, env=(), workdir="", ports=(),
           user="", labels=None) -> dict:
    """Return docker's runtime config keys for an image."""
    out: dict = {}
    if user:
        out["User"] = user
    if ports:
        out["ExposedPorts"] = {p: {} for p in ports}
    out["Env"] = list(env) or [PATH]
    if entrypoint:
        out["Entrypoint"] = list(entrypoint)
    if cmd:
        out["Cmd"] = list(cmd)
    if workdir:
        out["WorkingDir"] = workdir
    out["Labels"] = stand_in_labels(what, search, labels)
    return out


PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KB = 1024


# --- shared file contents -------------------------------------------------------------------------------

DEBIAN_PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/var/run/ircd:/usr/sbin/nologin
gnats:x:41:41:Gnats Bug-Reporting System (admin):/var/lib/gnats:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
_apt:x:100:65534::/nonexistent:/bin/false
"""

DEBIAN_GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
news:x:9:
uucp:x:10:
man:x:12:
proxy:x:13:
kmem:x:15:
dialout:x:20:
fax:x:21:
voice:x:22:
cdrom:x:24:
floppy:x:25:
tape:x:26:
sudo:x:27:
audio:x:29:
dip:x:30:
www-data:x:33:
backup:x:34:
operator:x:37:
list:x:38:
irc:x:39:
src:x:40:
gnats:x:41:
shadow:x:42:
utmp:x:43:
video:x:44:
sasl:x:45:
plugdev:x:46:
staff:x:50:
games:x:60:
users:x:100:
nogroup:x:65534:
"""


def _shadow(passwd: str) -> str:
    return "".join(f"{line.split(':')[0]}:*:17086:0:99999:7:::\n" for line in passwd.splitlines())


def _bins(prefix: str, names: Mapping[str, int], seed: str, arch: str = "amd64") -> list[Entry]:
    return [F(f"{prefix}/{n}", elf(f"{seed}:{n}", size, arch), 0o755) for n, size in names.items()]


# Programs labkit's shell runs (labkit.shell.coreutils) that the real images have too, where they have them; a
# stand-in is a small ELF file known by its name (labkit.shell.lookup), so the images' sizes barely move.
STAND_IN_SIZE = 256
COREUTILS_BIN = ("chmod", "false", "ln", "pwd", "rmdir", "touch", "true", "uname")
COREUTILS_USR_BIN = ("[", "basename", "dirname", "printenv", "printf", "test", "wc", "whoami")


def _stand_ins(prefix: str, names: Iterable[str], seed: str, arch: str = "amd64") -> list[Entry]:
    return [F(f"{prefix}/{n}", elf(f"{seed}:{n}", STAND_IN_SIZE, arch), 0o755) for n in names]


# --- busybox (an index: linux/amd64 + linux/arm64) ----------------------------------------------------------

BUSYBOX_APPLETS = ("[", "[[", "ash", "awk", "basename", "cat", "chmod", "chown", "cp", "cut", "date", "dd",
                   "df", "dirname", "du", "echo", "env", "false", "find", "grep", "head", "hostname", "id", "kill",
                   "ln", "ls", "mkdir", "more", "mount", "mv", "ping", "printenv", "printf", "ps", "pwd", "rm",
                   "rmdir", "sed", "sh", "sleep", "sort", "stat", "tail", "tar", "tee", "test", "top", "touch", "tr",
                   "true", "uname", "uptime", "vi", "wc", "wget", "which", "whoami", "xargs", "yes")

BUSYBOX_PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""

BUSYBOX_GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
"""


def busybox_rootfs(arch: str, version: str, binary_size: int) -> list[Entry]:
    """Return a busybox root: one big /bin/busybox with every applet a hard link to it (as in the real image)."""
    entries = dirs("bin", "dev", "etc", "home", "root", "tmp", "usr/sbin", "var/spool/mail", "var/www")
    entries += [D("root", 0o700), D("tmp", 0o1777)]
    entries.append(F("bin/busybox", elf(f"busybox-{version}", binary_size, arch), 0o755))
    entries += [H(f"bin/{a}", "bin/busybox") for a in BUSYBOX_APPLETS]
    entries += [F("etc/passwd", BUSYBOX_PASSWD), F("etc/group", BUSYBOX_GROUP),
                F("etc/shadow", "".join(f"{l.split(':')[0]}:*:10933:0:99999:7:::\n"
                                        for l in BUSYBOX_PASSWD.splitlines()), 0o640),
                F("etc/hostname", ""), F("etc/localtime", b"TZif2" + b"\x00" * 39 + b"UTC0\n")]
    return entries


BUSYBOX_SEARCH = Search("Busybox base image.", 1124, official=True)
BUSYBOX_CREATED = "2016-10-18T20:31:22Z"


def _busybox_image(arch: str, variant: str, when: str) -> Image:
    base = layer(f"busybox-{arch}", "2016-10-18T20:31:21Z", add_file_step(f"busybox-1.25.1-{arch}"),
                 busybox_rootfs(arch, "1.25.1", 1_072_000))
    return Image(f"busybox-{arch}", (base, Step(when, nop('CMD ["sh"]'))), when,
                 config(BUSYBOX_SEARCH, "busybox:latest (BusyBox v1.25.1)", cmd=["sh"],
                        env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]),
                 architecture=arch, variant=variant)


BUSYBOX_AMD64 = _busybox_image("amd64", "", BUSYBOX_CREATED)
BUSYBOX_ARM64 = _busybox_image("arm64", "v8", "2016-10-18T20:47:09Z")


# --- debian (jessie = 8, latest = a newer one) ----------------------------------------------------------

def debian_rootfs(codename: str, version: str, point: str, seed: str, scale: int = 1) -> list[Entry]:
    """Return a debian root filesystem: os-release, users, a few binaries, dpkg and apt state."""
    entries = dirs("bin", "boot", "dev", "etc/apt/apt.conf.d", "etc/apt/sources.list.d", "etc/dpkg/dpkg.cfg.d",
                   "etc/default", "etc/skel", "home", "lib/x86_64-linux-gnu", "lib64", "media", "mnt", "opt",
                   "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr/bin", "usr/games", "usr/include",
                   "usr/lib/x86_64-linux-gnu", "usr/local/bin", "usr/local/sbin", "usr/local/share",
                   "usr/sbin", "usr/share/doc", "usr/share/zoneinfo", "usr/src", "var/backups", "var/cache/apt",
                   "var/lib/apt/lists/partial", "var/lib/dpkg/info", "var/log", "var/mail", "var/spool",
                   "var/tmp")
    entries += [D("root", 0o700), D("tmp", 0o1777), D("var/tmp", 0o1777), D("var/mail", 0o2775, gid=8)]
    pretty = f"Debian GNU/Linux {version} ({codename})"
    entries += [
        F("etc/os-release", os_release(PRETTY_NAME=pretty, NAME="Debian GNU/Linux", VERSION_ID=version,
                                       VERSION=f"{version} ({codename})", ID="debian",
                                       HOME_URL="http://www.debian.org/", SUPPORT_URL="http://www.debian.org/support",
                                       BUG_REPORT_URL="https://bugs.debian.org/")),
        F("etc/debian_version", point + "\n"),
        F("etc/hostname", "localhost\n"),
        F("etc/issue", f"Debian GNU/Linux {version} \\n \\l\n\n"),
        F("etc/passwd", DEBIAN_PASSWD), F("etc/group", DEBIAN_GROUP),
        F("etc/shadow", _shadow(DEBIAN_PASSWD), 0o640, gid=42),
        F("etc/apt/sources.list", f"deb http://deb.debian.org/debian {codename} main\n"
                                  f"deb http://deb.debian.org/debian {codename}-updates main\n"
                                  f"deb http://security.debian.org {codename}/updates main\n"),
        F("etc/skel/.bashrc", "# ~/.bashrc: executed by bash(1) for non-login shells.\n"),
        F("root/.bashrc", "# ~/.bashrc: executed by bash(1) for non-login shells.\n", 0o644),
        L("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-2.19.so"),
        F("lib/x86_64-linux-gnu/ld-2.19.so", elf(f"{seed}:ld", 140 * KB), 0o755),
        F("lib/x86_64-linux-gnu/libc-2.19.so", elf(f"{seed}:libc", 1700 * KB * scale), 0o755),
        L("lib/x86_64-linux-gnu/libc.so.6", "libc-2.19.so"),
        L("bin/sh", "dash"),
        F("bin/su", elf(f"{seed}:su", 40 * KB), 0o4755),
        # bzip2, bunzip2 and bzcat are one file with three names in Debian: hard links
        F("bin/bzip2", elf(f"{seed}:bzip2", 31 * KB), 0o755),
        H("bin/bunzip2", "bin/bzip2"), H("bin/bzcat", "bin/bzip2"),
        F("usr/bin/perl", elf(f"{seed}:perl", 1800 * KB), 0o755),
        H("usr/bin/perl5.20.2", "usr/bin/perl"),
        F("usr/bin/passwd", elf(f"{seed}:passwd", 53 * KB), 0o4755),
        F("usr/share/zoneinfo/UTC", b"TZif2" + b"\x00" * 39 + b"UTC0\n"),
        L("etc/localtime", "/usr/share/zoneinfo/UTC"),
        F("var/lib/dpkg/status", filler(f"{seed}:dpkg-status", 150 * KB, head=128)),
    ]
    entries += _bins("bin", {"bash": 1000 * KB, "dash": 120 * KB, "ls": 110 * KB, "cat": 50 * KB,
                             "cp": 130 * KB, "mv": 120 * KB, "rm": 60 * KB, "mkdir": 60 * KB, "echo": 30 * KB,
                             "date": 60 * KB, "sleep": 30 * KB, "ps": 90 * KB, "tar": 380 * KB,
                             "grep": 190 * KB, "sed": 70 * KB, "hostname": 15 * KB}, seed)
    entries += _bins("usr/bin", {"apt-get": 40 * KB, "dpkg": 250 * KB, "env": 30 * KB, "id": 40 * KB,
                                 "find": 230 * KB, "xargs": 60 * KB, "head": 40 * KB, "tail": 60 * KB}, seed)
    entries += _stand_ins("bin", COREUTILS_BIN, seed) + _stand_ins("usr/bin", COREUTILS_USR_BIN, seed)
    for pkg in ("base-files", "bash", "coreutils", "dash", "debian-archive-keyring", "dpkg", "grep", "perl-base",
                "sed", "tar", "tzdata"):
        entries.append(F(f"var/lib/dpkg/info/{pkg}.list", f"/.\n/usr\n/usr/share/doc/{pkg}\n"))
        entries.append(F(f"usr/share/doc/{pkg}/copyright", filler(f"{seed}:doc:{pkg}", 4 * KB, head=128)))
    return entries


DEBIAN_SEARCH = Search("Debian is a Linux distribution that's composed entirely of free and open-source software.",
                       1845, official=True)
JESSIE_CREATED = "2016-10-14T18:32:07Z"
JESSIE_BASE = layer("debian-jessie", "2016-10-14T18:32:06Z", add_file_step("debian-jessie-20161014"),
                    debian_rootfs("jessie", "8", "8.6", "jessie"))
DEBIAN_JESSIE = Image("debian-jessie", (JESSIE_BASE, Step(JESSIE_CREATED, nop('CMD ["/bin/bash"]'))),
                      JESSIE_CREATED, config(DEBIAN_SEARCH, "debian:jessie (Debian 8.6)", cmd=["/bin/bash"]))

STRETCH_CREATED = "2017-01-17T17:54:46Z"
STRETCH_BASE = layer("debian-stretch", "2017-01-17T17:54:45Z", add_file_step("debian-stretch-20170117"),
                     debian_rootfs("stretch", "9", "stretch/sid", "stretch"))
DEBIAN_LATEST = Image("debian-latest", (STRETCH_BASE, Step(STRETCH_CREATED, nop('CMD ["/bin/bash"]'))),
                      STRETCH_CREATED,
                      config(DEBIAN_SEARCH, "debian:latest (a newer Debian than jessie)", cmd=["/bin/bash"]))


# --- ubuntu (5 layers, /lib -> usr/lib, a whiteout layer) -------------------------------------------------

UBUNTU_SEARCH = Search("Ubuntu is a Debian-based Linux operating system based on free software.", 5311,
                       official=True)
UBUNTU_CREATED = "2016-10-13T21:13:45Z"
_UBUNTU_LISTS = ("archive.ubuntu.com_ubuntu_dists_xenial_InRelease",
                 "archive.ubuntu.com_ubuntu_dists_xenial_main_binary-amd64_Packages.gz",
                 "archive.ubuntu.com_ubuntu_dists_xenial-updates_InRelease",
                 "security.ubuntu.com_ubuntu_dists_xenial-security_InRelease")


def ubuntu_rootfs() -> list[Entry]:
    """Return an ubuntu root where /bin, /lib and /sbin are symlinks into /usr (a merged /usr)."""
    seed = "xenial"
    entries = dirs("boot", "dev", "etc/apt/apt.conf.d", "etc/dpkg/dpkg.cfg.d", "home", "media", "mnt", "opt",
                   "proc", "root", "run", "srv", "sys", "tmp", "usr/bin", "usr/games", "usr/include",
                   "usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/local/bin", "usr/sbin", "usr/share/doc",
                   "var/cache/apt", "var/lib/apt/lists/partial", "var/lib/dpkg/info", "var/log", "var/tmp")
    entries += [D("root", 0o700), D("tmp", 0o1777), D("var/tmp", 0o1777)]
    entries += [L("bin", "usr/bin"), L("lib", "usr/lib"), L("lib64", "usr/lib64"), L("sbin", "usr/sbin")]
    entries += [
        F("etc/os-release", os_release(NAME="Ubuntu", VERSION="16.04.1 LTS (Xenial Xerus)", ID="ubuntu",
                                       ID_LIKE="debian", PRETTY_NAME="Ubuntu 16.04.1 LTS", VERSION_ID="16.04",
                                       HOME_URL="http://www.ubuntu.com/", SUPPORT_URL="http://help.ubuntu.com/",
                                       BUG_REPORT_URL="http://bugs.launchpad.net/ubuntu/",
                                       UBUNTU_CODENAME="xenial")),
        F("etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=16.04\nDISTRIB_CODENAME=xenial\n"
                             'DISTRIB_DESCRIPTION="Ubuntu 16.04.1 LTS"\n'),
        F("etc/debian_version", "stretch/sid\n"),
        F("etc/passwd", DEBIAN_PASSWD.replace("_apt:x:100:65534::/nonexistent:/bin/false\n", "")
          + "systemd-timesync:x:100:102:systemd Time Synchronization,,,:/run/systemd:/bin/false\n"
          + "_apt:x:104:65534::/nonexistent:/bin/false\n"),
        F("etc/group", DEBIAN_GROUP + "systemd-journal:x:101:\nsystemd-timesync:x:102:\n"),
        F("etc/shadow", _shadow(DEBIAN_PASSWD), 0o640, gid=42),
        F("etc/apt/sources.list", "deb http://archive.ubuntu.com/ubuntu/ xenial main restricted\n"
                                  "# deb http://archive.ubuntu.com/ubuntu/ xenial universe\n"
                                  "deb http://archive.ubuntu.com/ubuntu/ xenial-updates main restricted\n"
                                  "# deb http://archive.ubuntu.com/ubuntu/ xenial-updates universe\n"
                                  "deb http://security.ubuntu.com/ubuntu/ xenial-security main restricted\n"),
        F("usr/lib/x86_64-linux-gnu/libc-2.23.so", elf(f"{seed}:libc", 1800 * KB), 0o755),
        L("usr/lib/x86_64-linux-gnu/libc.so.6", "libc-2.23.so"),
        L("usr/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/ld-2.23.so"),
        F("usr/lib/x86_64-linux-gnu/ld-2.23.so", elf(f"{seed}:ld", 160 * KB), 0o755),
        L("usr/bin/sh", "dash"),
        F("usr/bin/perl", elf(f"{seed}:perl", 1900 * KB), 0o755),
        H("usr/bin/perl5.22.1", "usr/bin/perl"),
        F("usr/bin/su", elf(f"{seed}:su", 40 * KB), 0o4755),
        F("var/lib/dpkg/status", filler(f"{seed}:dpkg-status", 180 * KB, head=128)),
    ]
    entries += _bins("usr/bin", {"bash": 1040 * KB, "dash": 150 * KB, "ls": 125 * KB, "cat": 52 * KB,
                                 "cp": 150 * KB, "mv": 135 * KB, "rm": 63 * KB, "mkdir": 80 * KB, "echo": 31 * KB,
                                 "date": 68 * KB, "sleep": 31 * KB, "ps": 97 * KB, "tar": 384 * KB,
                                 "grep": 211 * KB, "sed": 73 * KB, "apt-get": 42 * KB, "dpkg": 265 * KB,
                                 "env": 31 * KB}, seed)
    entries += _stand_ins("usr/bin", COREUTILS_BIN + COREUTILS_USR_BIN + ("head", "hostname", "id", "tail"), seed)
    entries += [F(f"var/lib/apt/lists/{name}", filler(f"{seed}:{name}", 60 * KB, head=128))
                for name in _UBUNTU_LISTS]
    entries += [F("var/lib/apt/lists/lock", b"", 0o640)]
    return entries


UBUNTU = Image("ubuntu-latest", (
    layer("ubuntu-base", "2016-10-13T21:13:39Z", add_file_step("ubuntu-xenial-core-cloudimg-amd64-root-20161013"),
          ubuntu_rootfs()),
    # `rm -rf /var/lib/apt/lists/*` in a later step: the files stay in the layer below, hidden by whiteouts
    layer("ubuntu-rm-lists", "2016-10-13T21:13:41Z", "/bin/sh -c rm -rf /var/lib/apt/lists/*",
          [D("var/lib/apt/lists")] + [W(f"var/lib/apt/lists/{n}") for n in _UBUNTU_LISTS + ("lock",)]),
    layer("ubuntu-docker-tweaks", "2016-10-13T21:13:42Z",
          "/bin/sh -c set -xe \t\t&& echo '#!/bin/sh' > /usr/sbin/policy-rc.d \t&& echo 'exit 101' >> "
          "/usr/sbin/policy-rc.d \t&& chmod +x /usr/sbin/policy-rc.d \t\t&& dpkg-divert --local --rename --add "
          "/sbin/initctl \t&& cp -a /usr/sbin/policy-rc.d /sbin/initctl \t&& sed -i 's/^exit.*/exit 0/' "
          "/sbin/initctl \t\t&& echo 'force-unsafe-io' > /etc/dpkg/dpkg.cfg.d/docker-apt-speedup \t\t&& echo "
          "'DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb "
          "/var/cache/apt/*.bin || true\"; };' > /etc/apt/apt.conf.d/docker-clean",
          [D("usr/sbin"), D("etc/dpkg/dpkg.cfg.d"), D("etc/apt/apt.conf.d"),
           F("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755),
           F("usr/sbin/initctl", "#!/bin/sh\nexit 0\n", 0o755),
           F("etc/dpkg/dpkg.cfg.d/docker-apt-speedup", "force-unsafe-io\n"),
           F("etc/apt/apt.conf.d/docker-clean",
             'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
             '/var/cache/apt/*.bin || true"; };\n')]),
    layer("ubuntu-universe", "2016-10-13T21:13:43Z",
          "/bin/sh -c sed -i 's/^#\\s*\\(deb.*universe\\)$/\\1/g' /etc/apt/sources.list",
          [D("etc/apt"),
           F("etc/apt/sources.list", "deb http://archive.ubuntu.com/ubuntu/ xenial main restricted\n"
                                     "deb http://archive.ubuntu.com/ubuntu/ xenial universe\n"
                                     "deb http://archive.ubuntu.com/ubuntu/ xenial-updates main restricted\n"
                                     "deb http://archive.ubuntu.com/ubuntu/ xenial-updates universe\n"
                                     "deb http://security.ubuntu.com/ubuntu/ xenial-security main restricted\n")]),
    layer("ubuntu-systemd-container", "2016-10-13T21:13:44Z",
          "/bin/sh -c mkdir -p /run/systemd && echo 'docker' > /run/systemd/container",
          [D("run/systemd"), F("run/systemd/container", "docker\n")]),
    Step(UBUNTU_CREATED, nop('CMD ["/bin/bash"]')),
), UBUNTU_CREATED, config(UBUNTU_SEARCH, "ubuntu:latest (Ubuntu 16.04.1 LTS)", cmd=["/bin/bash"]))


# --- httpd (FROM debian:jessie; an opaque htdocs) ---------------------------------------------------------

HTTPD_SEARCH = Search("The Apache HTTP Server Project", 1054, official=True)
HTTPD_CREATED = "2016-11-08T19:24:31Z"
_AP = "usr/local/apache2"
HTTPD_ENV = ["PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "HTTPD_PREFIX=/usr/local/apache2", "HTTPD_VERSION=2.4.23",
             "HTTPD_SHA1=5101be34ac4a509b245adb70a56690a84fcc4e7f"]
HTTPD_FOREGROUND = """\
#!/bin/bash
set -e

# Apache gets grumpy about PID files pre-existing
rm -f /usr/local/apache2/logs/httpd.pid

exec httpd -DFOREGROUND
"""

HTTPD = Image("httpd-latest", (
    JESSIE_BASE,
    Step(JESSIE_CREATED, nop('CMD ["/bin/bash"]')),
    Step("2016-11-08T19:20:02Z", nop("ENV HTTPD_PREFIX=/usr/local/apache2")),
    Step("2016-11-08T19:20:02Z", nop("ENV PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:"
                                     "/usr/sbin:/usr/bin:/sbin:/bin")),
    Step("2016-11-08T19:20:03Z", nop("WORKDIR /usr/local/apache2")),
    layer("httpd-libs", "2016-11-08T19:20:20Z",
          "/bin/sh -c apt-get update \t&& apt-get install -y --no-install-recommends \t\tlibapr1 \t\tlibaprutil1 "
          "\t\tlibaprutil1-ldap \t\tlibapr1-dev \t\tlibaprutil1-dev \t\tlibpcre++0 \t\tlibssl1.0.0 \t&& rm -r "
          "/var/lib/apt/lists/*",
          dirs("usr/lib/x86_64-linux-gnu", "usr/share/doc/libapr1", "var/lib/dpkg/info", _AP)
          + [F("usr/lib/x86_64-linux-gnu/libapr-1.so.0.5.1", elf("httpd:libapr", 200 * KB), 0o644),
             L("usr/lib/x86_64-linux-gnu/libapr-1.so.0", "libapr-1.so.0.5.1"),
             F("usr/lib/x86_64-linux-gnu/libaprutil-1.so.0.5.4", elf("httpd:libaprutil", 180 * KB), 0o644),
             L("usr/lib/x86_64-linux-gnu/libaprutil-1.so.0", "libaprutil-1.so.0.5.4"),
             F("usr/lib/x86_64-linux-gnu/libssl.so.1.0.0", elf("httpd:libssl", 420 * KB), 0o644),
             F("usr/share/doc/libapr1/copyright", filler("httpd:apr-copyright", 6 * KB, head=128)),
             F("var/lib/dpkg/status", filler("jessie:dpkg-status+httpd", 160 * KB, head=128))]),
    Step("2016-11-08T19:20:21Z", nop("ENV HTTPD_VERSION=2.4.23")),
    Step("2016-11-08T19:20:21Z", nop("ENV HTTPD_SHA1=5101be34ac4a509b245adb70a56690a84fcc4e7f")),
    layer("httpd-build", "2016-11-08T19:24:28Z",
          "/bin/sh -c set -x \t&& buildDeps=' \t\tbzip2 \t\tca-certificates \t\tgcc \t\tlibpcre++-dev \t\t"
          "libssl-dev \t\tmake \t\twget \t' \t&& apt-get update \t&& apt-get install -y --no-install-recommends "
          "$buildDeps \t&& rm -r /var/lib/apt/lists/* \t\t&& wget -O httpd.tar.bz2 \"$HTTPD_BZ2_URL\" \t&& "
          "./configure --prefix=\"$HTTPD_PREFIX\" --enable-mods-shared=reallyall \t&& make -j\"$(nproc)\" \t"
          "&& make install \t\t&& cd .. \t&& rm -r src \t\t&& apt-get purge -y --auto-remove $buildDeps",
          dirs(f"{_AP}/bin", f"{_AP}/conf/extra", f"{_AP}/htdocs", f"{_AP}/logs", f"{_AP}/modules",
               f"{_AP}/cgi-bin", f"{_AP}/icons")
          + [F(f"{_AP}/bin/httpd", elf("httpd:httpd", 700 * KB), 0o755),
             F(f"{_AP}/bin/apachectl", "#!/bin/sh\n# apachectl -- Apache HTTP server control interface\n"
                                       'HTTPD=\'/usr/local/apache2/bin/httpd\'\n$HTTPD -k "$@"\n', 0o755),
             F(f"{_AP}/bin/ab", elf("httpd:ab", 90 * KB), 0o755),
             F(f"{_AP}/conf/httpd.conf", "ServerRoot \"/usr/local/apache2\"\nListen 80\n"
                                         "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
                                         "User daemon\nGroup daemon\n"
                                         "DocumentRoot \"/usr/local/apache2/htdocs\"\n"
                                         "<Directory \"/usr/local/apache2/htdocs\">\n    Require all granted\n"
                                         "</Directory>\nErrorLog /proc/self/fd/2\n"
                                         + "# " + "-" * 70 + "\n" * 1),
             F(f"{_AP}/conf/mime.types", filler("httpd:mime.types", 60 * KB, head=128)),
             F(f"{_AP}/conf/extra/httpd-ssl.conf", "Listen 443\nSSLCipherSuite HIGH:MEDIUM:!MD5:!RC4\n"),
             F(f"{_AP}/htdocs/index.html", "<html><body><h1>It works!</h1></body></html>\n"),
             F(f"{_AP}/htdocs/manual.html", "<html><body><p>The Apache HTTP Server manual.</p></body></html>\n"),
             F(f"{_AP}/cgi-bin/printenv", "#!/usr/bin/perl\nprint \"Content-type: text/plain\\n\\n\";\n", 0o644),
             F(f"{_AP}/icons/apache_pb.png", filler("httpd:apache_pb.png", 4 * KB, head=4096))]
          + [F(f"{_AP}/modules/mod_{m}.so", elf(f"httpd:mod_{m}", 40 * KB), 0o755)
             for m in ("alias", "authz_core", "dir", "log_config", "mime", "mpm_event", "rewrite", "ssl",
                       "unixd")]),
    # The real image only rewrites htdocs in later versions; here it shows an opaque directory: removing a
    # directory and creating it again in one step hides everything the lower layers had in it.
    layer("httpd-htdocs", "2016-11-08T19:24:30Z",
          "/bin/sh -c rm -rf /usr/local/apache2/htdocs && mkdir /usr/local/apache2/htdocs && echo "
          "'<html><body><h1>It works!</h1><p>(lab stand-in)</p></body></html>' > /usr/local/apache2/htdocs/index.html",
          [D(_AP), O(f"{_AP}/htdocs"), D(f"{_AP}/htdocs"),
           F(f"{_AP}/htdocs/index.html", "<html><body><h1>It works!</h1><p>(lab stand-in)</p></body></html>\n")]),
    layer("httpd-foreground", "2016-11-08T19:24:31Z",
          "/bin/sh -c #(nop) COPY file:761e313354b918b6cd7ea99975a4f6b53ff5381ba689bab2984aec4dab597215 in "
          "/usr/local/bin/ ",
          [D("usr/local/bin"), F("usr/local/bin/httpd-foreground", HTTPD_FOREGROUND, 0o755)]),
    Step(HTTPD_CREATED, nop("EXPOSE 80/tcp")),
    Step(HTTPD_CREATED, nop('CMD ["httpd-foreground"]')),
), HTTPD_CREATED, config(HTTPD_SEARCH, "httpd:latest (Apache httpd 2.4.23)", cmd=["httpd-foreground"],
                         env=HTTPD_ENV, workdir="/usr/local/apache2", ports=["80/tcp"]))


# --- node (FROM buildpack-deps:jessie: 7 layers) and mkerker/duckhunt (FROM node) -----------------------------

NODE_SEARCH = Search("Node.js is a JavaScript-based platform for server-side and networking applications.", 3672,
                     official=True)
NODE_CREATED = "2016-11-10T21:51:58Z"
NODE_ENV = [PATH, "NPM_CONFIG_LOGLEVEL=info", "NODE_VERSION=7.1.0"]

_NODE_CURL = layer("buildpack-curl", "2016-10-14T19:10:11Z",
                   "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends \t\tca-certificates "
                   "\t\tcurl \t\twget \t&& rm -rf /var/lib/apt/lists/*",
                   dirs("usr/bin", "usr/share/ca-certificates/mozilla", "etc/ssl/certs")
                   + [F("usr/bin/curl", elf("node:curl", 180 * KB), 0o755),
                      F("usr/bin/wget", elf("node:wget", 420 * KB), 0o755),
                      F("etc/ssl/certs/ca-certificates.crt", filler("node:ca-certificates", 260 * KB, head=128)),
                      F("usr/share/ca-certificates/mozilla/DigiCert_Global_Root_CA.crt",
                        filler("node:digicert", 2 * KB, head=128))])
_NODE_SCM = layer("buildpack-scm", "2016-10-14T19:10:51Z",
                  "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends \t\tbzr \t\tgit "
                  "\t\tmercurial \t\topenssh-client \t\tsubversion \t\t\t\tprocps \t&& rm -rf /var/lib/apt/lists/*",
                  dirs("usr/bin", "usr/lib/git-core", "usr/share/git-core/templates")
                  + [F("usr/bin/git", elf("node:git", 1900 * KB), 0o755),
                     H("usr/lib/git-core/git", "usr/bin/git"),
                     F("usr/bin/hg", "#!/usr/bin/python\nfrom mercurial import dispatch\ndispatch.run()\n", 0o755),
                     F("usr/bin/svn", elf("node:svn", 260 * KB), 0o755),
                     F("usr/bin/ssh", elf("node:ssh", 650 * KB), 0o755),
                     F("usr/share/git-core/templates/description",
                       "Unnamed repository; edit this file 'description' to name the repository.\n")])
_NODE_BUILDDEPS = layer("buildpack-deps", "2016-10-14T19:13:38Z",
                        "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends \t\tautoconf "
                        "\t\tautomake \t\tbzip2 \t\tfile \t\tg++ \t\tgcc \t\timagemagick \t\tlibbz2-dev \t\tlibc6-dev "
                        "\t\tlibcurl4-openssl-dev \t\tlibssl-dev \t\tmake \t\tpatch \t\txz-utils \t\tzlib1g-dev \t&& "
                        "rm -rf /var/lib/apt/lists/*",
                        dirs("usr/bin", "usr/lib/gcc/x86_64-linux-gnu/4.9", "usr/include/openssl")
                        + [F("usr/bin/gcc-4.9", elf("node:gcc", 800 * KB), 0o755), L("usr/bin/gcc", "gcc-4.9"),
                           F("usr/bin/g++-4.9", elf("node:g++", 800 * KB), 0o755), L("usr/bin/g++", "g++-4.9"),
                           F("usr/bin/make", elf("node:make", 200 * KB), 0o755),
                           F("usr/lib/gcc/x86_64-linux-gnu/4.9/cc1", elf("node:cc1", 2600 * KB), 0o755),
                           F("usr/include/openssl/ssl.h", filler("node:ssl.h", 120 * KB, head=128)),
                           F("usr/bin/convert", elf("node:convert", 300 * KB), 0o755)])
_NODE_USER = layer("node-user", "2016-11-10T21:50:10Z",
                   "/bin/sh -c groupadd --gid 1000 node   && useradd --uid 1000 --gid node --shell /bin/bash "
                   "--create-home node",
                   [D("etc"), D("home"), D("home/node", 0o755, 1000, 1000),
                    F("home/node/.bashrc", "# ~/.bashrc: executed by bash(1) for non-login shells.\n", uid=1000,
                      gid=1000),
                    F("etc/passwd", DEBIAN_PASSWD + "node:x:1000:1000::/home/node:/bin/bash\n"),
                    F("etc/group", DEBIAN_GROUP + "node:x:1000:\n"),
                    F("etc/shadow", _shadow(DEBIAN_PASSWD) + "node:!:17115:0:99999:7:::\n", 0o640, gid=42)])
_NODE_GPG = layer("node-gpg", "2016-11-10T21:50:22Z",
                  "/bin/sh -c set -ex   && for key in     9554F04D7259F04124DE6B476D5A82AC7E37093B     "
                  "94AE36675C464D64BAFA68DD7434390BDBE9B9C5     FD3A5288F042B6850C66B31F09FE44734EB7990E   ; do     "
                  "gpg --keyserver ha.pool.sks-keyservers.net --recv-keys \"$key\";   done",
                  [D("root", 0o700), D("root/.gnupg", 0o700), F("root/.gnupg/pubring.gpg",
                                                              filler("node:pubring", 20 * KB, head=4096), 0o600),
                   F("root/.gnupg/trustdb.gpg", filler("node:trustdb", 1200, head=4096), 0o600)])
_NODE_INSTALL = layer("node-install", "2016-11-10T21:51:55Z",
                      "/bin/sh -c curl -SLO \"https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-"
                      "x64.tar.xz\"   && curl -SLO \"https://nodejs.org/dist/v$NODE_VERSION/SHASUMS256.txt.asc\"   "
                      "&& gpg --batch --decrypt --output SHASUMS256.txt SHASUMS256.txt.asc   && grep \" node-v"
                      "$NODE_VERSION-linux-x64.tar.xz\\$\" SHASUMS256.txt | sha256sum -c -   && tar -xJf \"node-v"
                      "$NODE_VERSION-linux-x64.tar.xz\" -C /usr/local --strip-components=1   && rm \"node-v"
                      "$NODE_VERSION-linux-x64.tar.xz\" SHASUMS256.txt.asc SHASUMS256.txt   && ln -s "
                      "/usr/local/bin/node /usr/local/bin/nodejs",
                      dirs("usr/local/bin", "usr/local/include/node", "usr/local/lib/node_modules/npm/bin",
                           "usr/local/lib/node_modules/npm/lib", "usr/local/share/man/man1")
                      + [F("usr/local/bin/node", elf("node:node-7.1.0", 3200 * KB), 0o755),
                         L("usr/local/bin/nodejs", "/usr/local/bin/node"),
                         L("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"),
                         F("usr/local/lib/node_modules/npm/bin/npm-cli.js",
                           "#!/usr/bin/env node\n;(function () { // wrapper in case we're in module_context mode\n"
                           "  var npm = require('../lib/npm.js')\n})()\n", 0o755),
                         F("usr/local/lib/node_modules/npm/package.json",
                           '{\n  "name": "npm",\n  "version": "3.10.9",\n  "main": "./lib/npm.js"\n}\n'),
                         F("usr/local/lib/node_modules/npm/lib/npm.js", filler("node:npm.js", 300 * KB, head=128)),
                         F("usr/local/include/node/node.h", filler("node:node.h", 40 * KB, head=128)),
                         F("usr/local/share/man/man1/node.1", ".TH NODE 1\n.SH NAME\nnode \\- Server-side "
                                                             "JavaScript runtime\n")])
_NODE_PRE = (JESSIE_BASE, Step(JESSIE_CREATED, nop('CMD ["/bin/bash"]')), _NODE_CURL, _NODE_SCM, _NODE_BUILDDEPS,
             _NODE_USER, _NODE_GPG,
             Step("2016-11-10T21:50:23Z", nop("ENV NPM_CONFIG_LOGLEVEL=info")),
             Step("2016-11-10T21:50:23Z", nop("ENV NODE_VERSION=7.1.0")),
             _NODE_INSTALL,
             Step(NODE_CREATED, nop('CMD ["node"]')))
NODE = Image("node-latest", _NODE_PRE, NODE_CREATED,
             config(NODE_SEARCH, "node:latest (Node.js 7.1.0)", cmd=["node"], env=NODE_ENV))

DUCKHUNT_SEARCH = Search("Duck Hunt in the browser: the NES classic rebuilt in JavaScript, served by Node.js.", 2,
                         automated=True)
DUCKHUNT_CREATED = "2016-11-16T09:12:40Z"
_DUCK = "usr/src/app"
DUCKHUNT = Image("duckhunt-latest", _NODE_PRE + (
    Step("2016-11-16T09:11:02Z", nop("MAINTAINER mkerker")),
    layer("duckhunt-mkdir", "2016-11-16T09:11:03Z", "/bin/sh -c mkdir -p /usr/src/app", dirs(_DUCK)),
    Step("2016-11-16T09:11:03Z", nop("WORKDIR /usr/src/app")),
    layer("duckhunt-package", "2016-11-16T09:11:04Z",
          "/bin/sh -c #(nop) COPY file:a3e4d1ee8a1b1a7e7e61b7ad3ef7ea3d8ab4cbdc9c5f4d6fd5d04b6a02c1e0d4 in "
          "/usr/src/app/ ",
          dirs(_DUCK) + [F(f"{_DUCK}/package.json",
                           '{\n  "name": "duckhunt-js",\n  "version": "1.0.0",\n  "description": "DuckHunt ported to '
                           'JS and HTML5",\n  "main": "server.js",\n  "scripts": {\n    "start": "node server.js"\n'
                           '  },\n  "dependencies": {\n    "express": "^4.14.0",\n    "howler": "^2.0.1",\n'
                           '    "pixi.js": "^4.2.1"\n  }\n}\n')]),
    layer("duckhunt-npm-install", "2016-11-16T09:12:31Z", "/bin/sh -c npm install",
          dirs(f"{_DUCK}/node_modules/express/lib", f"{_DUCK}/node_modules/howler/dist",
               f"{_DUCK}/node_modules/pixi.js/bin", "root/.npm")
          + [D("root", 0o700),
             F(f"{_DUCK}/node_modules/express/package.json", '{"name":"express","version":"4.14.0"}\n'),
             F(f"{_DUCK}/node_modules/express/lib/express.js", filler("duck:express", 90 * KB, head=128)),
             F(f"{_DUCK}/node_modules/howler/dist/howler.js", filler("duck:howler", 80 * KB, head=128)),
             F(f"{_DUCK}/node_modules/pixi.js/bin/pixi.js", filler("duck:pixi", 1400 * KB, head=128)),
             F("root/.npm/registry.npmjs.org.cache", filler("duck:npm-cache", 600 * KB, head=128))]),
    layer("duckhunt-app", "2016-11-16T09:12:38Z",
          "/bin/sh -c #(nop) COPY dir:6c1d3c8bd0bd2d0f5b2b2a4b0b0d8a25f6bd5b6f0d3a1f2f69d0a5b1a8ce34a2 in "
          "/usr/src/app ",
          dirs(f"{_DUCK}/dist", f"{_DUCK}/src/modules", f"{_DUCK}/dist/sounds")
          + [F(f"{_DUCK}/server.js",
               "const express = require('express');\nconst app = express();\n"
               "app.use(express.static(__dirname + '/dist'));\n"
               "app.listen(8080, () => console.log('Duck Hunt on port 8080'));\n"),
             F(f"{_DUCK}/dist/index.html", "<!DOCTYPE html>\n<html><head><title>Duck Hunt JS</title></head>\n"
                                           "<body><script src=\"duckhunt.js\"></script></body></html>\n"),
             F(f"{_DUCK}/dist/duckhunt.js", filler("duck:bundle", 900 * KB, head=128)),
             F(f"{_DUCK}/dist/sprites.png", filler("duck:sprites", 160 * KB, head=1024)),
             F(f"{_DUCK}/dist/sounds/quack.mp3", filler("duck:quack", 30 * KB, head=4096)),
             F(f"{_DUCK}/src/modules/Duck.js", "class Duck extends Character {\n  // flaps, quacks, falls\n}\n"),
             F(f"{_DUCK}/src/modules/Dog.js", "class Dog extends Character {\n  // sniffs, jumps, laughs\n}\n")]),
    Step("2016-11-16T09:12:39Z", nop("EXPOSE 8080/tcp")),
    Step(DUCKHUNT_CREATED, nop('CMD ["npm" "start"]')),
), DUCKHUNT_CREATED, config(DUCKHUNT_SEARCH, "mkerker/duckhunt:latest", cmd=["npm", "start"], env=NODE_ENV,
                           workdir="/usr/src/app", ports=["8080/tcp"]), author="mkerker")


# --- hcscompany/clock (2 years old, busybox based, 2.43 MB) ----------------------------------------------------

CLOCK_SEARCH = Search("A tiny clock: prints the date and time every second (a first container to run).", 4,
                      automated=True)
CLOCK_CREATED = "2014-12-02T10:14:07Z"
CLOCK_SCRIPT = """\
#!/bin/sh
# hcscompany/clock: print the time once a second, forever
while true; do
  date
  sleep 1
done
"""
CLOCK = Image("clock-latest", (
    layer("busybox-2014", "2014-11-26T22:29:18Z", add_file_step("busybox-1.22.1-uclibc"),
          busybox_rootfs("amd64", "1.22.1-uclibc", 2_389_000)),
    Step("2014-11-26T22:29:20Z", nop('CMD ["/bin/sh"]')),
    Step("2014-12-02T10:14:05Z", nop("MAINTAINER hcscompany <docker@hcscompany.example>")),
    layer("clock-script", "2014-12-02T10:14:06Z",
          "/bin/sh -c #(nop) ADD file:4a6b3c6d27a2c1e0b5be67ddbe9a52d0c58c1d5b8e3f3c4a81f8b1e2c3d4e5f6 in /bin/clock",
          [D("bin"), F("bin/clock", CLOCK_SCRIPT, 0o755)]),
    Step(CLOCK_CREATED, nop('CMD ["/bin/clock"]')),
), CLOCK_CREATED, config(CLOCK_SEARCH, "hcscompany/clock:latest", cmd=["/bin/clock"]),
    author="hcscompany <docker@hcscompany.example>")


# --- zookeeper: the repositories of the search step --------------------------------------------------------

# The lab text's table (docker search cuts descriptions at 45 characters: 42 + "..."); the rest of each
# sentence is invented. The text prints zookeeper's [OK] in the AUTOMATED column, but Docker Hub marks
# library images official, not automated: official=True, automated=False (the lab text explains
# "Official images are those in the root namespace").
ZOOKEEPER_SEARCH = {
    "jplock/zookeeper": Search("Builds a docker image for Zookeeper version 3.4.9, running a single standalone "
                               "server on port 2181.", 159, automated=True),
    "library/zookeeper": Search("Apache ZooKeeper is an open-source server which enables highly reliable "
                                "distributed coordination.", 132, official=True),
    "mesoscloud/zookeeper": Search("ZooKeeper", 70, automated=True),
    "digitalwonderland/zookeeper": Search("Latest Zookeeper - clusterable", 12, automated=True),
    "springxd/zookeeper": Search("A Docker image that can run a ZooKeeper server for Spring XD distributed "
                                 "deployments.", 6, automated=True),
    "elevy/zookeeper": Search("ZooKeeper configured to execute an ensemble of servers, one per container, "
                              "from environment variables.", 6, automated=True),
    "debezium/zookeeper": Search("Zookeeper image required when running the Debezium platform for change data "
                                 "capture.", 3, automated=True),
}

_JRE_DEB = "usr/lib/jvm/java-8-openjdk-amd64"
OPENJDK_JESSIE = layer("openjdk-8-jre-jessie", "2016-11-25T01:02:10Z",
                       "/bin/sh -c set -x \t&& apt-get update \t&& apt-get install -y \t\topenjdk-8-jre-headless="
                       "\"$JAVA_DEBIAN_VERSION\" \t\tca-certificates-java=\"$CA_CERTIFICATES_JAVA_VERSION\" \t&& rm -rf "
                       "/var/lib/apt/lists/* \t&& [ \"$JAVA_HOME\" = \"$(docker-java-home)\" ]",
                       dirs(f"{_JRE_DEB}/jre/bin", f"{_JRE_DEB}/jre/lib/amd64/server", "etc/alternatives",
                            "usr/bin")
                       + [F(f"{_JRE_DEB}/jre/bin/java", elf("openjdk:java", 8 * KB), 0o755),
                          F(f"{_JRE_DEB}/jre/lib/rt.jar", filler("openjdk:rt.jar", 2400 * KB, head=64)),
                          F(f"{_JRE_DEB}/jre/lib/amd64/server/libjvm.so", elf("openjdk:libjvm", 1200 * KB)),
                          L("etc/alternatives/java", f"/{_JRE_DEB}/jre/bin/java"),
                          L("usr/bin/java", "/etc/alternatives/java")])
JAVA_ENV = [PATH, "LANG=C.UTF-8", f"JAVA_HOME=/{_JRE_DEB}/jre", "JAVA_VERSION=8u111",
            "JAVA_DEBIAN_VERSION=8u111-b14-2~bpo8+1"]


def _zookeeper(repo: str, version: str, home: str, when: str, extra_cfg: str = "", entry: "list[str] | None" = None,
               cmd: "list[str] | None" = None) -> Image:
    search = ZOOKEEPER_SEARCH[repo]
    seed = f"{repo}:{version}"
    files = dirs(f"{home}/bin", f"{home}/conf", f"{home}/lib", "var/lib/zookeeper/data") + [
        F(f"{home}/bin/zkServer.sh", "#!/usr/bin/env bash\n# Apache ZooKeeper server control script "
                                     f"({version})\nZOOBIN=\"${{BASH_SOURCE-$0}}\"\nexec java -cp "
                                     f"\"{home}/zookeeper-{version}.jar:{home}/lib/*\" "
                                     "org.apache.zookeeper.server.quorum.QuorumPeerMain \"$ZOOCFG\"\n", 0o755),
        F(f"{home}/bin/zkCli.sh", "#!/usr/bin/env bash\n# ZooKeeper command line client\n", 0o755),
        F(f"{home}/conf/zoo.cfg", "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zookeeper/data\n"
                                  f"clientPort=2181\n{extra_cfg}"),
        F(f"{home}/conf/log4j.properties", "zookeeper.root.logger=INFO, CONSOLE\n"),
        F(f"{home}/zookeeper-{version}.jar",
          jar({"org/apache/zookeeper/server/quorum/QuorumPeerMain.class":
               java_class(f"{seed}:QuorumPeerMain", 12 * KB),
               "org/apache/zookeeper/ZooKeeper.class": java_class(f"{seed}:ZooKeeper", 40 * KB)},
              f"Implementation-Title: org.apache.zookeeper\r\nImplementation-Version: {version}\r\n")),
        F(f"{home}/lib/slf4j-api-1.6.1.jar", jar({"org/slf4j/Logger.class": java_class("slf4j:Logger", 6 * KB)})),
        F(f"{home}/lib/log4j-1.2.16.jar", jar({"org/apache/log4j/Logger.class": java_class("log4j:Logger", 9 * KB)})),
    ]
    if entry:
        files.append(F(entry[0].lstrip("/"), "#!/bin/bash\nset -e\n# start ZooKeeper with the settings from the "
                                             f"environment\nexec /{home}/bin/zkServer.sh start-foreground\n", 0o755))
    family = repo.split("/")[0]
    steps = (JESSIE_BASE, Step(JESSIE_CREATED, nop('CMD ["/bin/bash"]')),
             Step("2016-11-25T01:00:05Z", nop("ENV LANG=C.UTF-8")),
             Step("2016-11-25T01:00:06Z", nop(f"ENV JAVA_HOME=/{_JRE_DEB}/jre")),
             OPENJDK_JESSIE,
             Step(when, nop(f"ENV ZOO_VERSION={version}")),
             layer(f"zookeeper-{family}", when,
                   f"/bin/sh -c curl -fsSL https://archive.apache.org/dist/zookeeper/zookeeper-{version}/"
                   f"zookeeper-{version}.tar.gz | tar -xzf - -C /opt && mv /opt/zookeeper-{version} {('/' + home)}",
                   files),
             Step(when, nop("EXPOSE 2181/tcp 2888/tcp 3888/tcp")),
             Step(when, nop("WORKDIR /" + home)))
    cmd = cmd or [f"/{home}/bin/zkServer.sh", "start-foreground"]
    if entry:
        steps += (Step(when, nop(f"ENTRYPOINT {exec_form(entry)}")),)
    steps += (Step(when, nop(f"CMD {exec_form(cmd)}")),)
    return Image(f"zookeeper-{family}", steps, when,
                 config(search, f"{repo.removeprefix('library/')}:latest (ZooKeeper {version})",
                        cmd=cmd, entrypoint=entry,
                        env=JAVA_ENV + [f"ZOO_VERSION={version}"], workdir="/" + home,
                        ports=["2181/tcp", "2888/tcp", "3888/tcp"]))


ZOOKEEPER_IMAGES = {
    "library/zookeeper": _zookeeper("library/zookeeper", "3.4.9", "zookeeper-3.4.9", "2017-01-04T16:40:12Z",
                                    "autopurge.snapRetainCount=3\n"),
    "jplock/zookeeper": _zookeeper("jplock/zookeeper", "3.4.9", "opt/zookeeper", "2016-12-13T09:24:51Z"),
    "mesoscloud/zookeeper": _zookeeper("mesoscloud/zookeeper", "3.4.8", "opt/zookeeper", "2016-12-02T12:01:33Z",
                                       "server.1=localhost:2888:3888\n"),
    "digitalwonderland/zookeeper": _zookeeper("digitalwonderland/zookeeper", "3.4.9", "opt/zookeeper",
                                              "2016-12-20T18:45:02Z", "standaloneEnabled=false\n"),
    "springxd/zookeeper": _zookeeper("springxd/zookeeper", "3.4.6", "opt/zookeeper", "2016-11-29T07:15:44Z"),
    "elevy/zookeeper": _zookeeper("elevy/zookeeper", "3.4.9", "opt/zookeeper", "2017-01-11T21:30:09Z",
                                  "server.1=zk1:2888:3888\nserver.2=zk2:2888:3888\nserver.3=zk3:2888:3888\n"),
    "debezium/zookeeper": _zookeeper("debezium/zookeeper", "3.4.9", "zookeeper", "2016-12-28T14:02:57Z",
                                     entry=["/docker-entrypoint.sh"], cmd=["start"]),
}


# --- the layered Java web application: CentOS -> JRE -> Tomcat -> dependencies -> JAR -> configuration --------

CENTOS_SEARCH = Search("The official build of CentOS.", 2932, official=True)
CENTOS_CREATED = "2016-12-15T20:20:36Z"
CENTOS_PASSWD = """\
root:x:0:0:root:/root:/bin/bash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/spool/mail:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
games:x:12:100:games:/usr/games:/sbin/nologin
ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin
nobody:x:99:99:Nobody:/:/sbin/nologin
systemd-bus-proxy:x:999:998:systemd Bus Proxy:/:/sbin/nologin
"""
CENTOS_GROUP = """\
root:x:0:
bin:x:1:
daemon:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mem:x:8:
kmem:x:9:
wheel:x:10:
mail:x:12:
man:x:15:
dialout:x:18:
floppy:x:19:
games:x:20:
tape:x:30:
video:x:39:
ftp:x:50:
lock:x:54:
audio:x:63:
nobody:x:99:
users:x:100:
utmp:x:22:
input:x:999:
systemd-bus-proxy:x:998:
"""


def centos_rootfs() -> list[Entry]:
    """Return a CentOS 7 root: merged /usr (bin, lib, lib64, sbin are symlinks), rpm database, yum."""
    seed = "centos7"
    entries = dirs("boot", "dev", "etc/yum.repos.d", "etc/pki/rpm-gpg", "home", "media", "mnt", "opt", "proc",
                   "root", "run", "srv", "sys", "tmp", "usr/bin", "usr/lib64", "usr/lib/python2.7/site-packages/yum",
                   "usr/libexec", "usr/local/bin", "usr/sbin", "usr/share/doc", "var/cache/yum", "var/lib/rpm",
                   "var/log", "var/tmp")
    entries += [D("root", 0o550), D("tmp", 0o1777), D("var/tmp", 0o1777)]
    entries += [L("bin", "usr/bin"), L("lib", "usr/lib"), L("lib64", "usr/lib64"), L("sbin", "usr/sbin")]
    entries += [
        F("etc/centos-release", "CentOS Linux release 7.3.1611 (Core) \n"),
        L("etc/redhat-release", "centos-release"), L("etc/system-release", "centos-release"),
        F("etc/os-release", os_release(NAME="CentOS Linux", VERSION="7 (Core)", ID="centos", ID_LIKE="rhel fedora",
                                       VERSION_ID="7", PRETTY_NAME="CentOS Linux 7 (Core)",
                                       ANSI_COLOR="0;31", CPE_NAME="cpe:/o:centos:centos:7",
                                       HOME_URL="https://www.centos.org/",
                                       BUG_REPORT_URL="https://bugs.centos.org/")),
        F("etc/passwd", CENTOS_PASSWD), F("etc/group", CENTOS_GROUP),
        F("etc/shadow", "".join(f"{l.split(':')[0]}:*:17110:0:99999:7:::\n" for l in CENTOS_PASSWD.splitlines()),
          0o400),  # 0000 on a real CentOS; 0400 keeps it copyable by a non-root student's labkit
        F("etc/yum.repos.d/CentOS-Base.repo", "[base]\nname=CentOS-$releasever - Base\n"
                                              "mirrorlist=http://mirrorlist.centos.org/?release=$releasever&arch="
                                              "$basearch&repo=os\ngpgcheck=1\n"),
        F("etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7", filler("centos:gpg-key", 1700, head=4096)),
        F("usr/lib64/libc-2.17.so", elf(f"{seed}:libc", 2100 * KB), 0o755),
        L("usr/lib64/libc.so.6", "libc-2.17.so"),
        F("usr/bin/yum", "#!/usr/bin/python\nimport sys\nsys.path.insert(0, '/usr/share/yum-cli')\n"
                         "import yummain\nyummain.user_main(sys.argv[1:], exit_code=True)\n", 0o755),
        L("usr/bin/sh", "bash"),
        F("usr/bin/python2.7", elf(f"{seed}:python", 8 * KB), 0o755),
        H("usr/bin/python", "usr/bin/python2.7"),
        F("usr/lib/python2.7/site-packages/yum/__init__.py", filler(f"{seed}:yum", 120 * KB, head=128)),
        F("var/lib/rpm/Packages", filler(f"{seed}:rpmdb", 1600 * KB, head=128)),
    ]
    entries += _bins("usr/bin", {"bash": 960 * KB, "ls": 117 * KB, "cat": 54 * KB, "cp": 155 * KB, "mv": 130 * KB,
                                 "rm": 62 * KB, "mkdir": 79 * KB, "echo": 33 * KB, "date": 62 * KB, "sleep": 33 * KB,
                                 "ps": 100 * KB, "tar": 346 * KB, "grep": 159 * KB, "sed": 76 * KB, "rpm": 20 * KB,
                                 "env": 29 * KB}, seed)
    entries += _stand_ins("usr/bin", COREUTILS_BIN + COREUTILS_USR_BIN + ("head", "hostname", "id", "tail"), seed)
    return entries


CENTOS_BASE = layer("centos-7", "2016-12-15T20:20:34Z", add_file_step("centos-7-docker-20161214"), centos_rootfs())
_CENTOS_STEPS = (CENTOS_BASE,
                 Step("2016-12-15T20:20:35Z", nop('LABEL name=CentOS Base Image vendor=CentOS license=GPLv2 '
                                                  'build-date=20161214')),
                 Step(CENTOS_CREATED, nop('CMD ["/bin/bash"]')))
CENTOS = Image("centos-7", _CENTOS_STEPS, CENTOS_CREATED,
               config(CENTOS_SEARCH, "centos:7 (CentOS Linux 7.3.1611)", cmd=["/bin/bash"],
                      labels={"name": "CentOS Base Image", "vendor": "CentOS", "license": "GPLv2",
                              "build-date": "20161214"}))

_JVM = "usr/lib/jvm/java-1.8.0-openjdk-1.8.0.111-2.b15.el7_3.x86_64"
WEB_JRE = layer("webapp-jre", "2016-12-20T10:02:11Z",
                "/bin/sh -c yum install -y java-1.8.0-openjdk-headless && yum clean all",
                dirs(f"{_JVM}/jre/bin", f"{_JVM}/jre/lib/amd64/server", "etc/alternatives", "usr/bin",
                     "var/lib/rpm")
                + [F(f"{_JVM}/jre/bin/java", elf("el7-jre:java", 8 * KB), 0o755),
                   F(f"{_JVM}/jre/lib/rt.jar", filler("el7-jre:rt.jar", 2600 * KB, head=64)),
                   F(f"{_JVM}/jre/lib/amd64/server/libjvm.so", elf("el7-jre:libjvm", 1300 * KB)),
                   F(f"{_JVM}/jre/lib/security/java.security", "security.provider.1=sun.security.provider.Sun\n"),
                   L("etc/alternatives/java", f"/{_JVM}/jre/bin/java"),
                   L("etc/alternatives/jre", f"/{_JVM}/jre"),
                   L("usr/bin/java", "/etc/alternatives/java"),
                   F("var/lib/rpm/Packages", filler("centos7:rpmdb+jre", 1650 * KB, head=128))])
_TOMCAT = "opt/tomcat"
WEB_TOMCAT = layer("webapp-tomcat", "2016-12-21T08:30:40Z",
                   "/bin/sh -c groupadd -r tomcat && useradd -r -g tomcat -d /opt/tomcat tomcat && curl -fsSL "
                   "https://archive.apache.org/dist/tomcat/tomcat-8/v8.5.9/bin/apache-tomcat-8.5.9.tar.gz | tar -xzf "
                   "- -C /opt && mv /opt/apache-tomcat-8.5.9 /opt/tomcat && rm -rf /opt/tomcat/webapps/* && chown "
                   "-R tomcat:tomcat /opt/tomcat",
                   dirs("etc", f"{_TOMCAT}/bin", f"{_TOMCAT}/conf", f"{_TOMCAT}/lib", f"{_TOMCAT}/logs",
                        f"{_TOMCAT}/temp", f"{_TOMCAT}/webapps", f"{_TOMCAT}/work")
                   + [F("etc/passwd", CENTOS_PASSWD + "tomcat:x:998:997::/opt/tomcat:/sbin/nologin\n"),
                      F("etc/group", CENTOS_GROUP + "tomcat:x:997:\n"),
                      D(f"{_TOMCAT}/logs", 0o750, 998, 997), D(f"{_TOMCAT}/work", 0o750, 998, 997),
                      F(f"{_TOMCAT}/bin/catalina.sh",
                        "#!/bin/sh\n# Control script for the CATALINA Server (Apache Tomcat 8.5.9)\n"
                        "CATALINA_HOME=${CATALINA_HOME:-/opt/tomcat}\nexec \"$JAVA_HOME/bin/java\" "
                        "-classpath \"$CATALINA_HOME/bin/bootstrap.jar\" org.apache.catalina.startup.Bootstrap "
                        "start\n", 0o755),
                      F(f"{_TOMCAT}/bin/startup.sh", "#!/bin/sh\nexec /opt/tomcat/bin/catalina.sh start \"$@\"\n",
                        0o755),
                      F(f"{_TOMCAT}/bin/bootstrap.jar",
                        jar({"org/apache/catalina/startup/Bootstrap.class": java_class("tomcat:Bootstrap", 20 * KB)},
                            "Main-Class: org.apache.catalina.startup.Bootstrap\r\n")),
                      F(f"{_TOMCAT}/lib/catalina.jar",
                        jar({f"org/apache/catalina/core/{c}.class": java_class(f"tomcat:{c}", 60 * KB)
                             for c in ("StandardContext", "StandardEngine", "StandardHost", "StandardServer",
                                       "StandardWrapper")})),
                      F(f"{_TOMCAT}/lib/servlet-api.jar",
                        jar({"javax/servlet/http/HttpServlet.class": java_class("tomcat:HttpServlet", 30 * KB)})),
                      F(f"{_TOMCAT}/conf/server.xml",
                        '<?xml version="1.0" encoding="UTF-8"?>\n<Server port="8005" shutdown="SHUTDOWN">\n'
                        '  <Service name="Catalina">\n    <Connector port="8080" protocol="HTTP/1.1"/>\n'
                        '    <Engine name="Catalina" defaultHost="localhost">\n'
                        '      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="true"/>\n'
                        '    </Engine>\n  </Service>\n</Server>\n'),
                      F(f"{_TOMCAT}/conf/web.xml", filler("tomcat:web.xml", 170 * KB, head=128)),
                      F(f"{_TOMCAT}/conf/logging.properties", "handlers = java.util.logging.ConsoleHandler\n")])
_WEB_BASE = _CENTOS_STEPS + (
    Step("2016-12-20T10:00:02Z", nop(f"ENV JAVA_HOME=/{_JVM}/jre")),
    WEB_JRE,
    Step("2016-12-21T08:30:01Z", nop("ENV CATALINA_HOME=/opt/tomcat")),
    WEB_TOMCAT,
)
WEB_ENV = [PATH, f"JAVA_HOME=/{_JVM}/jre", "CATALINA_HOME=/opt/tomcat"]
_APP = "opt/app"


def _deps(seed: str, jars: Mapping[str, int], when: str, key: str) -> Layer:
    return layer(key, when, f"/bin/sh -c #(nop) COPY dir:{hashlib.sha256(seed.encode()).hexdigest()} in /opt/app/lib ",
                 dirs(f"{_APP}/lib") + [
                     F(f"{_APP}/lib/{name}.jar",
                       jar({f"{name.rsplit('-', 1)[0].replace('-', '/')}/Main.class": java_class(f"{seed}:{name}", size)}))
                     for name, size in jars.items()])


WEBAPP_DEPS = _deps("webapp-deps", {"spring-core-4.3.5.RELEASE": 180 * KB, "spring-web-4.3.5.RELEASE": 120 * KB,
                                    "spring-webmvc-4.3.5.RELEASE": 150 * KB, "jackson-databind-2.8.5": 160 * KB,
                                    "jackson-core-2.8.5": 60 * KB, "slf4j-api-1.7.22": 10 * KB,
                                    "logback-classic-1.1.8": 60 * KB},
                    "2017-01-09T14:20:10Z", "webapp-deps")


def _app_jar(app: str, version: str, classes: Iterable[str]) -> bytes:
    pkg = f"io/labkit/{app}"
    files = {f"{pkg}/{c}.class": java_class(f"{app}-{version}:{c}", 3 * KB + 512 * i) for i, c in enumerate(classes)}
    files[f"{pkg}/version.properties"] = f"version={version}\n".encode()
    return jar(files, f"Main-Class: io.labkit.{app}.Application\r\nImplementation-Version: {version}\r\n")


def _webapp(app: str, version: str, when: str, deps: Layer, classes: Iterable[str], properties: str,
            what: str, search: Search) -> Image:
    jar_name = f"{app}-{version}.jar"
    steps = _WEB_BASE + (
        Step(f"{when[:11]}14:20:00Z", nop("WORKDIR /opt/app")),
        deps,
        layer(f"{app}-{version}-jar", f"{when[:11]}14:20:11Z",
              f"/bin/sh -c #(nop) COPY file:{hashlib.sha256(jar_name.encode()).hexdigest()} in /opt/app/{jar_name} ",
              dirs(_APP) + [F(f"{_APP}/{jar_name}", _app_jar(app, version, classes))]),
        layer(f"{app}-{version}-config", f"{when[:11]}14:20:12Z",
              f"/bin/sh -c #(nop) COPY dir:{hashlib.sha256((jar_name + 'config').encode()).hexdigest()} in "
              "/opt/app/config ",
              dirs(f"{_APP}/config") + [F(f"{_APP}/config/application.properties", properties),
                                        F(f"{_APP}/config/logback.xml",
                                          '<configuration>\n  <root level="INFO"/>\n</configuration>\n')]),
        Step(when, nop("EXPOSE 8080/tcp")),
        Step(when, nop(f'CMD ["java" "-cp" "/opt/app/{jar_name}:/opt/app/lib/*" "io.labkit.{app}.Application"]')),
    )
    return Image(f"{app}-{version}", steps, when,
                 config(search, what, cmd=["java", "-cp", f"/opt/app/{jar_name}:/opt/app/lib/*",
                                           f"io.labkit.{app}.Application"],
                        env=WEB_ENV, workdir="/opt/app", ports=["8080/tcp"],
                        labels={"org.opencontainers.image.version": version}))


WEBAPP_SEARCH = Search("The lab's layered Java web application: CentOS, JRE, Tomcat, dependencies, application "
                       "JAR and configuration, one layer each.", 0)
REPORTS_SEARCH = Search("A second Java web application of the lab: it shares the CentOS, JRE and Tomcat layers "
                        "of labkit/webapp.", 0)
_WEBAPP_CLASSES = ("Application", "OrderController", "OrderService", "Order")
WEBAPP_1_0 = _webapp("webapp", "1.0", "2017-01-09T14:20:13Z", WEBAPP_DEPS, _WEBAPP_CLASSES,
                     "server.port=8080\napp.greeting=Hello from webapp 1.0\n",
                     "the lab's layered web application, version 1.0", WEBAPP_SEARCH)
WEBAPP_1_1 = _webapp("webapp", "1.1", "2017-01-18T14:20:13Z", WEBAPP_DEPS, _WEBAPP_CLASSES + ("InvoiceController",),
                     "server.port=8080\napp.greeting=Hello from webapp 1.1\n",
                     "the lab's layered web application, version 1.1", WEBAPP_SEARCH)
REPORTS_DEPS = _deps("reports-deps", {"spring-core-4.3.5.RELEASE": 180 * KB, "spring-web-4.3.5.RELEASE": 120 * KB,
                                      "jasperreports-6.3.1": 400 * KB, "itext-2.1.7": 110 * KB},
                     "2017-01-16T14:20:10Z", "reports-deps")
REPORTS_1_0 = _webapp("reports", "1.0", "2017-01-16T14:20:13Z", REPORTS_DEPS,
                      ("Application", "ReportController", "PdfRenderer"),
                      "server.port=8080\nreports.dir=/var/lib/reports\n",
                      "a second web application sharing the lower layers of labkit/webapp", REPORTS_SEARCH)


# --- the repositories ------------------------------------------------------------------------------------------

def repositories() -> list[Repository]:
    """Return every repository of the lab registry, in a fixed order."""
    repos = [
        Repository("library/busybox", {"latest": (BUSYBOX_AMD64, BUSYBOX_ARM64)}, BUSYBOX_SEARCH),
        Repository("library/ubuntu", {"latest": UBUNTU, "16.04": UBUNTU, "xenial": UBUNTU}, UBUNTU_SEARCH),
        Repository("library/debian", {"jessie": DEBIAN_JESSIE, "8": DEBIAN_JESSIE, "latest": DEBIAN_LATEST},
                   DEBIAN_SEARCH),
        Repository("library/httpd", {"latest": HTTPD, "2.4": HTTPD}, HTTPD_SEARCH),
        Repository("library/node", {"latest": NODE, "7": NODE}, NODE_SEARCH),
        Repository("hcscompany/clock", {"latest": CLOCK}, CLOCK_SEARCH),
        Repository("mkerker/duckhunt", {"latest": DUCKHUNT}, DUCKHUNT_SEARCH),
    ]
    repos += [Repository(path, {"latest": image}, ZOOKEEPER_SEARCH[path]) for path, image in ZOOKEEPER_IMAGES.items()]
    repos += [
        Repository("library/centos", {"7": CENTOS, "latest": CENTOS}, CENTOS_SEARCH),
        Repository("labkit/webapp", {"1.0": WEBAPP_1_0, "1.1": WEBAPP_1_1, "latest": WEBAPP_1_1}, WEBAPP_SEARCH),
        Repository("labkit/reports", {"1.0": REPORTS_1_0, "latest": REPORTS_1_0}, REPORTS_SEARCH),
    ]
    return repos


def images() -> list[Image]:
    """Return every distinct Image of every repository (platform images of an index included), in order."""
    seen: dict[int, Image] = {}
    for repo in repositories():
        for target in repo.tags.values():
            for image in (target if isinstance(target, tuple) else (target,)):
                seen.setdefault(id(image), image)
    return list(seen.values())
