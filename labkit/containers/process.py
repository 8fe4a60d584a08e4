"""A container's main process, simulated: what it runs, prints and exits with, on labkit's clock.

Docker starts a container's command (the image's Entrypoint + Cmd, the Cmd replaced by `run`'s arguments;
moby daemon/container.go getEntrypointAndArgs) as PID 1; the container is Up while it runs and Exited (status)
when it ends. Here labkit's shell runs it (labkit.shell.Machine) over the container's files, on simulated
time: `start` runs it up to labkit's "now" (labkit.clock, which LABKIT_NOW pins); a process in `sleep 5` is
saved in the middle (process.json) and `advance` carries it on when the clock has moved past its wake-up.
What it prints goes to the container's log as Docker's json-file driver writes it (`<id>-json.log`, one JSON
object per line: log, stream, time), which `logs` replays.

Signals reach PID 1 only (labkit.shell.programs.disposition): `stop` sends SIGTERM (or the image's
StopSignal), waits the grace period in simulated time, then SIGKILL (moby daemon/stop.go containerStop).
"""

from __future__ import annotations

import contextlib
import json
import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterator

from ..errors import Conflict, LabkitError
from .ops import STATE_CREATED, STATE_EXITED, STATE_RUNNING

if TYPE_CHECKING:
    from .container import Container

PROCESS_FILE = "process.json"
DEFAULT_STOP_TIMEOUT = 10            # moby daemon/config: the engine's default stop timeout, seconds


class StartError(LabkitError):
    """The runtime refused to start the container's command: `status` is the exit code Docker sets (127 not
    found, 126 not executable), the message the daemon's error line."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def start_error_text(runtime_error: str, status: int) -> str:
    """Return the daemon's error for a container whose command cannot start (Docker 28 and 29: moby's
    "failed to create task for container" around containerd's shim and runc's errors, runc 1.2+ wording)."""
    text = ("failed to create task for container: failed to create shim task: OCI runtime create failed: runc "
            f"create failed: unable to start container process: error during container init: {runtime_error}: unknown")
    if runtime_error.endswith("is a directory"):
        text += ": permission denied"       # moby daemon/errors.go: EISDIR reported as EACCES
    return text


def exec_error_text(runtime_error: str) -> str:
    """Return what `docker exec` prints when its command cannot start (runc exec via containerd's shim)."""
    return (f"OCI runtime exec failed: exec failed: unable to start container process: {runtime_error}: unknown")


def ts(dt: datetime) -> float:
    """Return an aware datetime as seconds since the epoch."""
    return dt.timestamp()


def from_ts(seconds: float) -> datetime:
    """Return seconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def rfc3339_nano(dt: datetime) -> str:
    """Return a time as Go's RFC3339Nano writes it in Docker's logs ("2017-01-20T00:00:00.000000001Z" style,
    trailing zeros of the fraction dropped)."""
    text = dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


# --- the environment and command Docker gives the process ------------------------------------------------

def process_env(container: "Container") -> dict:
    """Return the process's environment as Docker builds it: PATH (Docker's default), HOSTNAME, TERM with a
    terminal, then the container's Env replacing or adding (moby container.CreateDaemonEnvironment), and HOME
    from /etc/passwd when unset (what runc does)."""
    from ..shell import DEFAULT_PATH

    cfg = container.config
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": container.hostname}
    if cfg.get("tty"):
        env["TERM"] = "xterm"
    for item in cfg.get("env") or []:
        k, _, v = item.partition("=")
        env[k] = v
    if "HOME" not in env:
        env["HOME"] = _home_of_root(container)
    return env


def _home_of_root(container) -> str:
    try:
        for line in container.read("/etc/passwd").decode("utf-8", "replace").splitlines():
            parts = line.split(":")
            if len(parts) > 5 and parts[0] == "root":
                return parts[5] or "/"
    except OSError:
        pass
    return "/"


def command_line(argv: list) -> str:
    """Return the COMMAND `docker ps` shows: Path and Args, an argument with a space in single quotes
    (moby daemon/container/view.go)."""
    if not argv:
        return ""
    args = [f"'{a}'" if " " in a else a for a in argv[1:]]
    return " ".join([argv[0]] + args) if args else argv[0]


# --- the machine on disk ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(container: "Container") -> Iterator[None]:
    """Hold the process's own lock (file operations of the process take the container's lock themselves)."""
    from ..fsutil import file_lock

    with file_lock(container.root / "process.lock"):
        container.reload()
        yield


def _load(container: "Container"):
    from ..shell import Machine

    try:
        state = json.loads((container.root / PROCESS_FILE).read_bytes())
    except FileNotFoundError:
        return None
    return Machine.load(container, state["machine"])


def _save(container: "Container", machine) -> None:
    from ..fsutil import atomic_write_bytes

    path = container.root / PROCESS_FILE
    if machine is None or machine.finished:
        path.unlink(missing_ok=True)
        return
    atomic_write_bytes(path, json.dumps({"machine": machine.dump()}, separators=(",", ":")).encode())


def log_path(container: "Container"):
    """Return the container's log file (Docker's json-file log driver: <id>-json.log)."""
    return container.root / f"{container.id}-json.log"


def _append_log(container: "Container", out: list, tty: bool) -> None:
    if not out:
        return
    lines = []
    for stream, text, t in out:
        when = rfc3339_nano(from_ts(t))
        for piece in text.splitlines(keepends=True):
            lines.append(json.dumps({"log": piece, "stream": "stdout" if tty else stream, "time": when},
                                    ensure_ascii=False))
    with open(log_path(container), "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _settle(container: "Container", machine) -> None:
    """Record what the machine did: its output in the log; its exit, if it ended, in the container's state."""
    _append_log(container, machine.out, bool(container.config.get("tty")))
    machine.out = []
    if machine.finished:
        container.set_state(STATE_EXITED, machine.status, at=from_ts(machine.t))
    _save(container, machine)


# --- lifecycle -------------------------------------------------------------------------------------------

def start(container: "Container", now: datetime, stdin: "str | None" = None) -> None:
    """Start the container's command as PID 1 and run it up to `now`; StartError when the runtime would refuse
    (the container keeps its state, with the exit code and error recorded, as Docker does)."""
    from ..shell import ExecError, Machine

    with _locked(container):
        if container.running:
            return
        argv = container.argv
        m = Machine(container, ts(now))
        cfg = container.config
        try:
            if not argv:
                raise ExecError("no command specified", 125)
            m.start(argv, process_env(container), cfg.get("working_dir") or "/", stdin=stdin,
                    stdin_open=bool(cfg.get("open_stdin") or cfg.get("tty")) and stdin is None)
        except ExecError as e:
            message = e.message if e.status == 125 else start_error_text(e.message, e.status)
            container.record_error(e.status, message)
            raise StartError(message, e.status) from None
        container.set_state(STATE_RUNNING, at=now)
        m.run(ts(now))
        _settle(container, m)


def advance(container: "Container", now: datetime) -> None:
    """Carry the container's running process on up to `now` (what happened meanwhile happens now)."""
    if not container.running or not (container.root / PROCESS_FILE).exists():
        return
    with _locked(container):
        m = _load(container)
        if m is None or not container.running:
            return
        wake = m.wake_time()
        if wake is None or wake > ts(now):
            return
        m.run(ts(now))
        _settle(container, m)


def run_until(container: "Container", limit: float) -> "float | None":
    """Run the process up to `limit` (seconds; math.inf: until it blocks for good); return its next wake-up
    (None: it ended, or waits for input or a signal only)."""
    with _locked(container):
        m = _load(container)
        if m is None or not container.running:
            return None
        m.run(limit)
        _settle(container, m)
        return m.wake_time() if not m.finished else None


def feed(container: "Container", data: "str | None", now: datetime) -> None:
    """Give the process input (`run -i`); None ends its input (EOF); then run it up to `now`."""
    with _locked(container):
        m = _load(container)
        if m is None or not container.running:
            return
        m.t = max(m.t, ts(now))
        if data is None:
            m.close_stdin()
        else:
            m.feed(data)
        m.run(ts(now))
        _settle(container, m)


def state(container: "Container") -> dict:
    """Return what the process is doing: {"running", "waiting_input", "wake", "pid1"}."""
    m = _load(container) if container.running else None
    if m is None:
        return {"running": False, "waiting_input": False, "wake": None, "pid1": {}, "processes": []}
    shell = next((f for f in reversed(m.stack) if f["k"] == "proc" and f.get("src") == "stdin"), None)
    return {"running": True, "waiting_input": m.waiting_for_input(), "wake": m.wake_time(), "pid1": dict(m.pid1),
            "processes": m.processes(), "spinning": m.spinning,
            "shell": {"dialect": shell["dialect"], "cwd": shell["cwd"]} if shell else None}


def signal(container: "Container", number: int, now: datetime) -> bool:
    """Send signal `number` to PID 1; return True when it ended the process."""
    from ..shell.programs import disposition

    with _locked(container):
        if not container.running:
            return False
        m = _load(container)
        if m is not None:
            m.t = max(m.t, ts(now))
        name = (m.pid1.get("name") if m is not None else "") or ""
        status = disposition(name, number)
        if status is None:
            return False
        if m is not None:
            _append_log(container, m.out, bool(container.config.get("tty")))
        (container.root / PROCESS_FILE).unlink(missing_ok=True)
        container.set_state(STATE_EXITED, status, at=now)
        return True


def stop(container: "Container", now: datetime, timeout: "int | None" = None, signal_name: "str | None" = None) -> None:
    """Stop a running container like moby's containerStop: the stop signal, `timeout` seconds of (simulated)
    grace in which the process may end by itself, then SIGKILL; a negative timeout waits for ever."""
    from ..shell.programs import signal_number

    if not container.running:
        return
    sig = signal_number(signal_name or container.config.get("stop_signal") or "SIGTERM")
    if signal(container, sig, now):
        return
    if timeout is None:
        timeout = container.config.get("stop_timeout", DEFAULT_STOP_TIMEOUT)
    limit = math.inf if timeout < 0 else ts(now) + timeout
    run_until(container, limit)
    container.reload()
    if container.running and timeout >= 0:
        signal(container, 9, now + timedelta(seconds=timeout))


def exec_in(container: "Container", argv: list, now: datetime, stdin: "str | None" = None,
            env_extra: "list | None" = None, workdir: "str | None" = None):
    """Run a command in a running container (`docker exec`): a second process beside PID 1, to its end.
    Returns a labkit.shell.Execution; Conflict if the container is not running."""
    from ..shell import Execution, ExecError, Machine

    if not container.running:
        raise Conflict(f"container {container.id} is not running")
    env = process_env(container)
    for item in env_extra or []:
        k, _, v = item.partition("=")
        env[k] = v
    m = Machine(container, ts(now))
    try:
        m.start(list(argv), env, workdir or container.config.get("working_dir") or "/", stdin=stdin)
    except ExecError as e:
        return Execution("", e.status, exec_error_text(e.message), [])
    m.run(math.inf)
    text = "".join(t for _, t, _ in m.out)
    return Execution(text, m.status, None, list(m.ops), "".join(t for s, t, _ in m.out if s == "stdout"),
                     "".join(t for s, t, _ in m.out if s == "stderr"))


# --- what `logs` and `top` show -------------------------------------------------------------------------

def read_log(container: "Container") -> list[dict]:
    """Return the container's log records ({"log", "stream", "time"}), oldest first."""
    try:
        text = log_path(container).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def host_pid(container: "Container", pid: int) -> int:
    """Return the PID `docker top` would show for the container's process `pid` (a host PID: a number taken
    from the container ID, the container's PID 1 being the first of its processes)."""
    return 1000 + int(container.id[:6], 16) % 30000 + (pid - 1)


def top(container: "Container", now: datetime) -> tuple[list[str], list[list[str]]]:
    """Return `docker top`'s titles and rows (ps -ef: UID PID PPID C STIME TTY TIME CMD); Conflict if the
    container is not running (moby daemon/top_unix.go)."""
    if not container.running:
        raise Conflict(f"container {container.id} is not running")
    info = state(container)
    started = container.config.get("started_at")
    from ..clock import parse_time

    when = parse_time(started) if started else now
    stime = when.strftime("%H:%M") if when.date() == now.date() else when.strftime("%b%d")
    tty = "pts/0" if container.config.get("tty") else "?"
    rows = []
    shim = host_pid(container, 1) - 23                    # containerd-shim, the container's parent on the host
    for p in info["processes"] or [{"pid": 1, "ppid": 0, "argv": container.argv}]:
        ppid = shim if p["ppid"] == 0 else host_pid(container, p["ppid"])
        rows.append(["root", str(host_pid(container, p["pid"])), str(ppid), "0", stime, tty, "00:00:00",
                     " ".join(p["argv"])])
    return ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], rows
