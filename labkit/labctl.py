"""`lab up / down / reset`: the seeded lab registry as a background process, and the docker.io mirror setting.

The registry root is `<home>/lab-registry`, seeded on first start from the shipped lab images
(labkit/labimages/layout). The server runs detached (`python -m labkit.labctl serve ...`, its own session),
so it outlives the notebook or command that started it; `<home>/run/lab-registry.pid` and
`<home>/run/lab-registry.json` (pid, url, root) say where it is, and `<home>/run/lab-registry.log` keeps
what it printed. Every function returns status lines; the CLI prints them.

Whose registry is it? The port a lab registry listens on (127.0.0.1:5000 by default) may be held by another
home's lab registry (on a shared host every user has the same loopback) or by one whose home was deleted.
Each home keeps an identity secret (`<home>/run/lab-registry.secret`); its registry proves it holds it
(registry/server/identity.py) and exits by itself once its root is gone. `lab up` uses a registry only
after that proof; when the default port belongs to something else it starts this home's registry on a
free port and says so in one line (an explicit `--addr` is never replaced: that is an error instead).

On a free port, the names of the default address (`localhost:5000`, `127.0.0.1:5000`) must still reach this
home's registry: the notebooks push to `localhost:5000/...`. `lab up` then writes containerd-style registry
host files, `<home>/certs.d/localhost:5000/hosts.toml` and `<home>/certs.d/127.0.0.1:5000/hosts.toml`
(registry.hosts), whose server is the registry's real address; pulls, pushes, login and search read them.
They are removed by `lab down`, and once the registry is back on the default address. Only files `lab up`
wrote are touched (they say so in their first line).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .errors import LabkitError

DEFAULT_ADDR = "127.0.0.1:5000"
ADDR_ENV = "LABKIT_LAB_ADDR"  # where `lab up` (and the notebooks) put the lab registry when no --addr is given
ROOT_NAME = "lab-registry"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
STALE_CHECK_INTERVAL = 1.0  # how often a background lab registry checks that its root still exists
STALE_WAIT = 15.0  # how long `lab up` waits for a stale registry to go (it takes a second; more on a busy host)
_SERVE_MARK = "labkit.labctl"  # in the server's command line: how we recognise our own process
# Servers this process started: kept so they are reaped by poll() (not left as zombies) and so Popen
# does not warn that a detached server outlived its object.
_CHILDREN: "dict[int, subprocess.Popen]" = {}


# --- where things are ---------------------------------------------------------------------------------------

def registry_root(home: "str | os.PathLike") -> Path:
    """Return the lab registry's root directory (an OCI layout) under `home`."""
    return Path(home) / ROOT_NAME


def _run_dir(home) -> Path:
    return Path(home) / "run"


def pid_path(home: "str | os.PathLike") -> Path:
    """Return the pid file of the background lab registry."""
    return _run_dir(home) / "lab-registry.pid"


def state_path(home: "str | os.PathLike") -> Path:
    """Return the JSON state file (pid, url, addr, root) of the background lab registry."""
    return _run_dir(home) / "lab-registry.json"


def secret_path(home: "str | os.PathLike") -> Path:
    """Return the file holding the home's lab registry identity secret (mode 0600)."""
    return _run_dir(home) / "lab-registry.secret"


def default_addr() -> str:
    """Return where the lab registry goes when no address is given: $LABKIT_LAB_ADDR, else 127.0.0.1:5000."""
    return os.environ.get(ADDR_ENV) or DEFAULT_ADDR


def log_path(home: "str | os.PathLike") -> Path:
    """Return the log file the background lab registry writes to."""
    return _run_dir(home) / "lab-registry.log"


# --- process helpers ----------------------------------------------------------------------------------------

def _reap(pid: int) -> None:
    """Collect `pid` if it is our exited child (else a zombie would look alive)."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    """Return True if `pid` is a running process (zombies count as gone)."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_ours(pid: int) -> bool:
    """Return True unless /proc shows that `pid` is some other program (a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return _SERVE_MARK.encode() in cmdline


def _answers(url: str, timeout: float = 1.0) -> bool:
    """Return True if GET <url>/v2/ answers like a registry (200 or 401); never through a proxy."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", "/v2/")
        return conn.getresponse().status in (200, 401)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _read_state(home) -> "dict | None":
    try:
        state = json.loads(state_path(home).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("pid"), int) else None


def running(home: "str | os.PathLike") -> "dict | None":
    """Return the state (pid, url, addr, root) of this home's lab registry when it is running, else None."""
    state = _read_state(home)
    if state is None or not _alive(state["pid"]) or not _is_ours(state["pid"]):
        return None
    return state


def _clear_state(home) -> None:
    for p in (pid_path(home), state_path(home)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _identity_secret(home, create: bool = False) -> "bytes | None":
    """Return the home's identity secret, creating it (mode 0600) when asked and missing."""
    from .registry.server.identity import new_secret

    path = secret_path(home)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(new_secret())
    return path.read_bytes()


def _ask_identity(host: str, port: int, secret: "bytes | None") -> "tuple[str, dict]":
    """Ask host:port who it is; return (kind, answer) with kind one of: "free" (nothing answers),
    "own" (a lab registry proving `secret`), "stale" (a lab registry whose root is gone), "lab" (another
    home's lab registry), "other" (some other program)."""
    import http.client

    from .registry.server.identity import new_nonce, proof_matches

    nonce = new_nonce()
    conn = http.client.HTTPConnection(host, port, timeout=2.0)
    try:
        conn.request("GET", f"/_labkit/identity?nonce={nonce}")
        resp = conn.getresponse()
        body = resp.read(4096)
        server = resp.getheader("Server") or ""
    except ConnectionRefusedError:
        return "free", {}
    except (OSError, http.client.HTTPException):
        return "other", {}
    finally:
        conn.close()
    if not server.startswith("labkit-registry"):
        return "other", {}
    try:
        answer = json.loads(body) if resp.status == 200 else {}
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if answer.get("stale"):
        return "stale", answer
    if secret is not None and proof_matches(secret, nonce, answer.get("proof")):
        return "own", answer
    return "lab", answer


def _port_free(host: str, port: int) -> bool:
    """Return True if this process could listen on host:port now."""
    if port == 0:
        return True
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            raise LabkitError(f"lab up: cannot listen on {host}:{port}: {e.strerror or e}") from None
    return True


_HOLDERS = {"lab": "another lab registry (of another labkit home)", "other": "another program",
            "stale": "a lab registry whose home was deleted", "own": "this home's lab registry"}


def who_holds(host: str, port: int, home: "str | os.PathLike") -> str:
    """Return who listens on host:port, seen from `home`: "free", "own", "stale", "lab" or "other".

    A stale registry exits by itself within a second or two of its root going (serve's watchdog); this
    waits for that, so "stale" comes back only when one lingers."""
    deadline = time.monotonic() + STALE_WAIT
    while True:
        if _port_free(host, port):
            return "free"
        kind, _ = _ask_identity(host, port, _identity_secret(home))
        if kind == "free":  # it was going away between the two checks
            continue
        if kind != "stale" or time.monotonic() > deadline:
            return kind
        time.sleep(0.1)


# --- seeding ------------------------------------------------------------------------------------------------

def seed(root: "str | os.PathLike", fresh: bool = False) -> bool:
    """Copy the shipped lab images into `root` unless it is already a layout; return True if it copied.

    `fresh` removes whatever is there first (the registry must be stopped)."""
    from .labimages import copy_layout

    root = Path(root)
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
        # the layout's side files (lock, claims, uploads) live beside it (store.OciLayout.tmp_dir)
        shutil.rmtree(root.parent / "tmp" / root.name, ignore_errors=True)
    if (root / "index.json").is_file():
        return False
    root.mkdir(parents=True, exist_ok=True)
    copy_layout(root)
    return True


def lab_images_missing(root: "str | os.PathLike") -> list[str]:
    """Return the digests of the shipped lab images that the registry root's index.json does not record (a
    registry seeded by an older labkit and kept since: the browser's storage keeps it across site updates)."""
    from .labimages import LAYOUT_DIR

    def digests(index: Path) -> set:
        try:
            return {m.get("digest") for m in json.loads(index.read_bytes()).get("manifests", [])}
        except (OSError, ValueError, AttributeError):
            return set()

    return sorted(digests(LAYOUT_DIR / "index.json") - digests(Path(root) / "index.json"))


def repository_count(root: "str | os.PathLike") -> int:
    """Return how many repositories the registry root's index.json records."""
    from .registry.server import record_repository

    try:
        doc = json.loads((Path(root) / "index.json").read_bytes())
    except (OSError, ValueError):
        return 0
    return len({r for r in map(record_repository, doc.get("manifests", [])) if r})


# --- the mirror setting -------------------------------------------------------------------------------------

def _set_mirror(home, url: "str | None", remove: "str | None" = None) -> None:
    """Put `url` first in registry-mirrors (None: only remove `remove`); drop the key when it empties."""
    from .home import load_settings, save_settings

    settings = load_settings(Path(home))
    mirrors = [m for m in settings.get("registry-mirrors", []) if m not in (url, remove)]
    if url:
        mirrors.insert(0, url)
    if mirrors:
        settings["registry-mirrors"] = mirrors
    else:
        settings.pop("registry-mirrors", None)
    save_settings(Path(home), settings)


def _mirror_line(home, url: str) -> str:
    from .home import load_settings

    if url in load_settings(Path(home)).get("registry-mirrors", []):
        return f"docker.io mirror: {url}"
    return "docker.io mirror: not set (docker.io pulls go to Docker Hub)"


# --- the default address's names, when the registry is elsewhere ---------------------------------------------

REDIRECT_MARK = "Written by `labkit lab up`"


def default_names(addr: "str | None" = None) -> list[str]:
    """Return the registry names a notebook may use for the default lab address: localhost:P and 127.0.0.1:P."""
    from .registry.server import parse_addr

    _host, port = parse_addr(addr or default_addr())
    return [f"localhost:{port}", f"127.0.0.1:{port}"]


def _ours(path: Path) -> bool:
    try:
        return path.read_text().startswith(f"# {REDIRECT_MARK}")
    except OSError:
        return False


def set_redirects(home: "str | os.PathLike", url: "str | None") -> None:
    """Point the default address's names at `url` in `home`'s certs.d (None, or `url` on the default address
    itself: remove the files `lab up` wrote there)."""
    from .registry import hosts

    default = default_addr()
    elsewhere = url is not None and url.removeprefix("http://") != default
    for name in default_names(default):
        path = hosts.config_dir(home) / name / hosts.FILE
        if elsewhere:
            if path.exists() and not _ours(path):
                continue  # the user's own configuration for that name wins
            note = (f"{REDIRECT_MARK}: {default} is another's, so this home's lab registry listens on\n"
                    f"{url.removeprefix('http://')}; requests for {name} go there. `labkit lab down` removes this file.")
            hosts.write_redirect(home, name, url, note)
        elif _ours(path):
            hosts.remove_redirect(home, name)


def share_redirects(base: "str | os.PathLike", home: "str | os.PathLike") -> None:
    """Give `home` (a notebook's) the same redirects as `base` (the user's home, whose lab registry it uses)."""
    from .registry import hosts

    for name in default_names():
        src = hosts.config_dir(base) / name / hosts.FILE
        dest = hosts.config_dir(home) / name / hosts.FILE
        if _ours(src):
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read_bytes())
        elif _ours(dest):
            hosts.remove_redirect(home, name)


# --- up / down / reset ----------------------------------------------------------------------------------------

def _control_lock(home: Path):
    """Return the lock that serialises up/down/reset of one home (two notebooks may call them at once)."""
    from .fsutil import file_lock

    return file_lock(_run_dir(home) / "lab-registry.lock")


def lab_up(home: "str | os.PathLike", addr: "str | None" = None, mirror: bool = True) -> list[str]:
    """Start the home's seeded lab registry in the background (if not running) and set the mirror; return
    status lines. With no `addr`, it goes to default_addr(), or to a free port when that one is someone else's."""
    home = Path(home)
    with _control_lock(home):
        return _up(home, addr, mirror)


def _up(home: Path, addr: "str | None", mirror: bool) -> list[str]:
    from .registry.server import parse_addr

    state = running(home)
    if state is not None:
        url = state["url"]
        host, port = parse_addr(state["addr"])
        if _ask_identity(host, port, _identity_secret(home))[0] == "own":
            _set_mirror(home, url if mirror else None, remove=url)
            set_redirects(home, url if state.get("requested_addr") is None else None)
            return [f"lab registry already running at {url} (pid {state['pid']}, "
                    f"{repository_count(state['root'])} repositories)", _mirror_line(home, url)]
        _terminate(state["pid"])  # our process, but it no longer answers as this home's registry
    _clear_state(home)
    requested = addr
    host, port = parse_addr(addr or default_addr())
    lines = []
    holder = who_holds(host, port, home)
    if holder not in ("free", "own"):
        what = _HOLDERS[holder]
        if requested is not None:
            raise LabkitError(f"lab up: port {port} on {host} is already in use by {what}; stop it "
                              f"or choose another address (labkit lab up --addr {host}:{port + 1})")
        lines.append(f"{host}:{port} is in use by {what}: this home's lab registry takes a free port instead")
        port = 0
    root = registry_root(home)
    seeded = seed(root)
    if holder == "own":  # this home's registry, whose state file was lost: adopt it
        url, pid = _adopt(home, host, port, root)
    else:
        url, pid = _spawn(home, root, f"{host}:{port}")
    _write_state(home, pid, url, root, requested)
    count = repository_count(root)
    _set_mirror(home, url if mirror else None, remove=url)
    set_redirects(home, url if requested is None else None)
    what = f"seeded with {count} repositories" if seeded else f"{count} repositories"
    return lines + [f"lab registry running at {url} ({what})", _mirror_line(home, url)]


def _adopt(home: Path, host: str, port: int, root: Path) -> tuple[str, int]:
    """Return (url, pid) of this home's registry found running on host:port without a state file."""
    _kind, answer = _ask_identity(host, port, _identity_secret(home))
    pid = answer.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        raise LabkitError(f"lab up: this home's lab registry answers on {host}:{port} but gives no process id")
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}", pid


def _write_state(home: Path, pid: int, url: str, root: Path, requested: "str | None") -> None:
    from .fsutil import atomic_write_bytes

    state = {"pid": pid, "url": url, "addr": url.removeprefix("http://"), "root": str(root),
             "requested_addr": requested}
    atomic_write_bytes(state_path(home), (json.dumps(state, indent=2) + "\n").encode())
    atomic_write_bytes(pid_path(home), f"{pid}\n".encode())


def _spawn(home: Path, root: Path, addr: str) -> tuple[str, int]:
    """Start the detached server, wait until /v2/ answers; return (url, pid)."""
    run = _run_dir(home)
    run.mkdir(parents=True, exist_ok=True)
    ready = run / "lab-registry.ready"
    with contextlib.suppress(FileNotFoundError):
        ready.unlink()
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    _identity_secret(home, create=True)
    cmd = [sys.executable, "-m", _SERVE_MARK, "serve", "--root", str(root), "--addr", addr,
           "--ready-file", str(ready), "--identity-file", str(secret_path(home))]
    with open(log_path(home), "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=str(home),
                                start_new_session=True, close_fds=True)
    _CHILDREN[proc.pid] = proc
    deadline = time.monotonic() + START_TIMEOUT
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _CHILDREN.pop(proc.pid, None)
            raise LabkitError(f"lab up: the lab registry on {addr} exited at start ({_last_log_line(home)})")
        if url is None and ready.is_file():
            url = ready.read_text().strip() or None
        if url and _answers(url, timeout=0.5):
            break
        time.sleep(0.05)
    else:
        _terminate(proc.pid)
        raise LabkitError(f"lab up: the lab registry on {addr} did not answer GET /v2/ within "
                          f"{START_TIMEOUT:.0f} s (log: {log_path(home)})")
    return url, proc.pid


def _last_log_line(home) -> str:
    try:
        lines = [line for line in log_path(home).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1] if lines else "no output"


def _terminate(pid: int) -> None:
    """SIGTERM `pid`, wait up to STOP_TIMEOUT, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not _alive(pid):
            return
        time.sleep(0.02)


def lab_down(home: "str | os.PathLike") -> list[str]:
    """Stop this home's lab registry and remove its mirror setting; return status lines."""
    home = Path(home)
    with _control_lock(home):
        return _down(home)


def _down(home: Path) -> list[str]:
    state = _read_state(home)
    lines = []
    if state is not None and _alive(state["pid"]) and _is_ours(state["pid"]):
        _terminate(state["pid"])
        lines.append(f"lab registry stopped (was {state['url']}, pid {state['pid']})")
    else:
        lines.append("lab registry was not running")
    if state is not None:
        _set_mirror(home, None, remove=state.get("url"))
    set_redirects(home, None)
    _clear_state(home)
    lines.append("docker.io mirror: removed" if state is not None else
                 "docker.io mirror: not set (docker.io pulls go to Docker Hub)")
    return lines


def lab_reset(home: "str | os.PathLike", addr: "str | None" = None, mirror: bool = True) -> list[str]:
    """Stop the lab registry, restore its seeded state, remove local images and containers, start it again.

    `addr` defaults to the address it was last asked to run on (else as lab_up). Returns status lines."""
    home = Path(home)
    with _control_lock(home):
        return _reset(home, addr, mirror)


def _reset(home: Path, addr: "str | None", mirror: bool) -> list[str]:
    state = _read_state(home)
    if addr is None and state and state.get("requested_addr", state.get("addr")) is not None:
        addr = state["addr"]  # the address it ran on when one was asked for; else the default (or a free port)
    lines = [line for line in _down(home) if line.startswith("lab registry stopped")]
    seed(registry_root(home), fresh=True)
    lines.append(f"lab registry restored to the {repository_count(registry_root(home))} seeded repositories")
    removed = []
    for name in ("store", "layerdb", "layers", "containers", "tmp/store"):
        path = home / name
        if path.exists():
            _rmtree(path)
            removed.append(name)
    images = [n for n in removed if n in ("store", "layerdb", "layers", "tmp/store")]
    lines.append("local images removed" if images else "no local images to remove")
    lines.append("containers removed" if "containers" in removed else "no containers to remove")
    lines += _up(home, addr, mirror)
    return lines


def _rmtree(path: Path) -> None:
    """Remove a tree even where a layer made directories read-only."""
    def fix(func, p, _exc):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
        func(p)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=fix)
    else:
        shutil.rmtree(path, onerror=fix)


# --- the background process itself -------------------------------------------------------------------------------

def serve(root: str, addr: str, ready_file: "str | None" = None, auth: str = "none",
          identity_file: "str | None" = None) -> None:
    """Serve the lab registry in this process until SIGTERM, or until its root is deleted (a stale registry
    would answer 404 for every lab image and hold the port); write the URL to `ready_file` once listening."""
    import threading

    from .fsutil import atomic_write_bytes
    from .registry.server import LabRegistry

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    identity = Path(identity_file).read_bytes() if identity_file else None
    registry = LabRegistry(root, addr, auth, identity=identity).bind()

    def watch_root():
        while not registry.stale:
            time.sleep(STALE_CHECK_INTERVAL)
        print(f"lab registry root {root} is gone: stopping", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_root, name="labkit-registry-root-watch", daemon=True).start()
    if ready_file:
        atomic_write_bytes(Path(ready_file), (registry.url + "\n").encode())
    print(f"lab registry listening on {registry.url} (root {root})", flush=True)
    registry.serve_forever()


def main(argv: "list[str] | None" = None) -> int:
    """Entry point of `python -m labkit.labctl serve|up|down|reset`; return the exit status."""
    import argparse

    from .home import resolve_home

    parser = argparse.ArgumentParser(prog="python -m labkit.labctl")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a lab registry root in the foreground")
    s.add_argument("--root", required=True)
    s.add_argument("--addr", default=DEFAULT_ADDR)
    s.add_argument("--ready-file")
    s.add_argument("--auth", default="none")
    s.add_argument("--identity-file")
    for name in ("up", "down", "reset"):
        p = sub.add_parser(name)
        p.add_argument("--home")
        if name != "down":
            p.add_argument("--addr")
            p.add_argument("--no-mirror", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            serve(args.root, args.addr, args.ready_file, args.auth, args.identity_file)
            return 0
        home = resolve_home(args.home)
        if args.command == "up":
            lines = lab_up(home, args.addr, mirror=not args.no_mirror)
        elif args.command == "down":
            lines = lab_down(home)
        else:
            lines = lab_reset(home, args.addr, mirror=not args.no_mirror)
    except LabkitError as e:
        print(f"labkit: {e}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
