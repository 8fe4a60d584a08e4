"""A container's main process through the `labkit` command, against Docker's behaviour (Docker 28.5.2 and
29.7.2: docker/cli v28.5.2 and v29.7.2, moby v28.5.2 and docker-v29.7.2, runc 1.2/1.3 as they ship with).

Expected outputs are written from Docker's source, cited at each test. labkit words a daemon error as
`Error: <the daemon's message>` where docker prints `Error response from daemon: <the daemon's message>` (and
`docker run` adds "docker: " before it and "Run 'docker run --help' for more information" after), the one
mapping between the two: `as_labkit` below.
"""

from __future__ import annotations

import io
import json
import sys

import pytest

from labkit.cli import main

# docker/cli v29.7.2 cli/command/container/run.go withHelp(), moby client/request.go ("Error response from
# daemon: %w"); the daemon's text from moby docker-v29.7.2 daemon/internal/libcontainerd/remote/client.go
# ("failed to create task for container"), containerd 2 core/runtime/v2/task_manager.go ("failed to create shim
# task"), its runc shim's runtimeError ("OCI runtime create failed"), runc v1.3.0 create.go ("runc create
# failed"), libcontainer/container_linux.go ("unable to start container process"), process_linux.go ("error
# during container init"), Go's os/exec.LookPath error, and containerd's errgrpc (": unknown"). Docker 28.5.2
# (moby libcontainerd/remote/client.go, containerd 1.7, runc 1.2) prints the same line.
DOCKER_RUN_CAT_NOT_FOUND = (
    'docker: Error response from daemon: failed to create task for container: failed to create shim task: OCI '
    'runtime create failed: runc create failed: unable to start container process: error during container init: '
    'exec: "cat": executable file not found in $PATH: unknown\n'
    "\n"
    "Run 'docker run --help' for more information\n")


def as_labkit(docker_stderr: str) -> str:
    """Return the line labkit prints for docker's daemon error (see the module text)."""
    first = docker_stderr.splitlines()[0]
    return "Error: " + first.removeprefix("docker: ").removeprefix("Error response from daemon: ") + "\n"


def run(*argv, stdin: "str | None" = None):
    """Return (status, stdout, stderr) of one in-process labkit command (`stdin`: what is piped into it)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        status = main(list(argv), out=out, err=err)
    finally:
        sys.stdin = saved
    return status, out.getvalue(), err.getvalue()


def quiet(*argv, stdin=None):
    """Return (status, stdout, stderr) with the implicit pull's lines left out of stderr."""
    status, out, err = run(*argv, stdin=stdin)
    pulled = ("Unable to find image", "latest: Pulling", "Digest:", "Status:")
    lines = [x for x in err.splitlines(keepends=True)
             if not x.startswith(pulled) and ": Pull" not in x and ": Already exists" not in x]
    return status, out, "".join(lines)


@pytest.fixture
def home(mirrored_home, monkeypatch):
    """The test's home with the lab images' registry as its mirror; the clock pinned, container IDs seeded."""
    monkeypatch.setenv("LABKIT_NOW", "2017-01-20T00:00:00Z")
    monkeypatch.setenv("LABKIT_SEED", "11")
    return mirrored_home


def at(monkeypatch, when: str) -> None:
    """Move labkit's clock (the pinned "now")."""
    monkeypatch.setenv("LABKIT_NOW", when)


def status_of(name: str) -> str:
    return json.loads(run("ps", "-a", "--format", "json")[1].splitlines()[0])["Status"] if name else ""


def ps_row(name: str) -> dict:
    for line in run("ps", "-a", "--format", "json")[1].splitlines():
        row = json.loads(line)
        if row["Names"] == name:
            return row
    raise AssertionError(f"no container {name}")


# --- the command and its exit ----------------------------------------------------------------------------

def test_a_shell_without_input_exits_at_once(home):
    # bash is ubuntu's Cmd; docker run -d gives it no terminal and stdin /dev/null: it reads EOF, exits 0
    status, out, _ = quiet("run", "-d", "--name", "u", "ubuntu")
    assert status == 0 and len(out.strip()) == 64
    assert ps_row("u")["Status"] == "Exited (0) Less than a second ago"
    assert run("ps")[1].splitlines()[1:] == []


def test_run_prints_the_commands_output_and_exits_with_its_status(home):
    status, out, err = quiet("run", "--name", "talk", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (status, out, err) == (3, "out\n", "err\n")
    assert ps_row("talk")["Status"] == "Exited (3) Less than a second ago"
    # moby daemon/container/view.go: Path and Args, an argument with a space in single quotes
    assert ps_row("talk")["Command"] == '"sh -c \'echo out; ec…"'


def test_a_command_the_image_lacks_fails_with_dockers_error(home, tmp_path):
    status, out, err = quiet("run", "--name", "nocat", "hcscompany/clock", "cat", "/bin/clock")
    assert status == 0                                     # the clock image is busybox: it has cat
    import gzip
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    (tmp_path / "myos.tar.gz").write_bytes(gzip.compress(buf.getvalue()))
    run("import", str(tmp_path / "myos.tar.gz"), "myos:1.0")
    status, out, err = run("run", "--name", "first", "myos:1.0", "cat", "/hello.txt")
    # docker/cli run.go toStatusError: "executable file not found" -> exit 127
    assert (status, out, err) == (127, "", as_labkit(DOCKER_RUN_CAT_NOT_FOUND))
    # the container was created, never started: moby State.String() says "Created"; inspect keeps 127 and the error
    assert ps_row("first")["Status"] == "Created"
    (data,) = json.loads(run("inspect", "first")[1])
    assert data["State"]["ExitCode"] == 127 and data["State"]["Error"] == as_labkit(DOCKER_RUN_CAT_NOT_FOUND)[7:-1]
    # moby daemon/create.go mergeAndVerifyConfig: an image with no Cmd or Entrypoint and no arguments
    assert run("run", "myos:1.0") == (125, "", "Error: no command specified\n")   # run: 125 (toStatusError)
    assert run("create", "myos:1.0") == (1, "", "Error: no command specified\n")


def test_scratch_is_a_reserved_name(home):
    # moby docker-v29.7.2 daemon/server/router/image/image_routes.go validateRepoName (v28.5.2:
    # distribution/errors.go reservedNameError); docker/cli create.go prints "Unable to find image" first
    assert run("pull", "scratch") == (1, "Using default tag: latest\n", "Error: 'scratch' is a reserved name\n")
    assert run("create", "scratch") == (1, "", "Unable to find image 'scratch:latest' locally\n"
                                               "Error: 'scratch' is a reserved name\n")
    assert run("run", "scratch") == (125, "", "Unable to find image 'scratch:latest' locally\n"
                                              "Error: 'scratch' is a reserved name\n")
    assert run("ps", "-a")[1].splitlines()[1:] == []


def test_run_i_feeds_standard_input_to_the_shell(home):
    status, out, _ = quiet("run", "-i", "--rm", "busybox", "sh", stdin="echo hi\nexit 4\n")
    assert (status, out) == (4, "hi\n")
    assert run("ps", "-a")[1].splitlines()[1:] == []                  # --rm
    # docker/cli cli/streams/in.go CheckTty: -it needs a terminal on stdin
    assert run("run", "-it", "busybox", "sh", stdin="echo hi\n") == (1, "", "Error: the input device is not a TTY\n")


# --- time: Up while it runs, on labkit's clock ------------------------------------------------------------

def test_sleep_keeps_the_container_up_until_its_time(home, monkeypatch):
    quiet("run", "-d", "--name", "nap", "busybox", "sleep", "5")
    # moby State.String(): "Up " + go-units HumanDuration; "Exited (code) ... ago" once it ended
    at(monkeypatch, "2017-01-20T00:00:03Z")
    assert ps_row("nap")["Status"] == "Up 3 seconds"
    at(monkeypatch, "2017-01-20T00:02:00Z")
    assert ps_row("nap")["Status"] == "Exited (0) About a minute ago"
    at(monkeypatch, "2017-01-20T00:07:05Z")
    assert ps_row("nap")["Status"] == "Exited (0) 7 minutes ago"
    assert run("ps")[1].splitlines()[1:] == []


def test_logs_replay_what_the_process_printed_as_time_passes(home, monkeypatch):
    quiet("run", "-d", "--name", "clock", "hcscompany/clock")           # /bin/clock: date, sleep 1, forever
    at(monkeypatch, "2017-01-20T00:00:02Z")
    assert run("logs", "clock") == (0, "Fri Jan 20 00:00:00 UTC 2017\nFri Jan 20 00:00:01 UTC 2017\n"
                                       "Fri Jan 20 00:00:02 UTC 2017\n", "")
    assert run("logs", "--tail", "1", "clock")[1] == "Fri Jan 20 00:00:02 UTC 2017\n"
    assert run("logs", "-n", "0", "clock")[1] == ""
    # docker logs -t: the json-file driver's RFC3339Nano time before each line
    assert run("logs", "-t", "--tail", "1", "clock")[1] == "2017-01-20T00:00:02Z Fri Jan 20 00:00:02 UTC 2017\n"
    record = json.loads((home / "containers").glob("*/*-json.log").__next__().read_text().splitlines()[0])
    assert record == {"log": "Fri Jan 20 00:00:00 UTC 2017\n", "stream": "stdout", "time": "2017-01-20T00:00:00Z"}


def test_logs_keep_the_streams_apart(home):
    quiet("run", "--name", "both", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert run("logs", "both") == (0, "out\n", "err\n")
    assert run("container", "logs", "both") == (0, "out\n", "err\n")     # docker container logs: the same verb


def test_logs_of_a_missing_container(home):
    # moby daemon/errors.go objNotFoundError: "No such container: <name>"; docker/cli logs.go inspects first
    assert run("logs", "nosuch") == (1, "", "Error: No such container: nosuch\n")


# --- stop and kill: signals to PID 1 ---------------------------------------------------------------------

def test_stop_sigterm_then_sigkill_after_the_grace_period(home):
    quiet("run", "-d", "--name", "sleeper", "ubuntu", "sleep", "infinity")
    # docker/cli stop.go prints each container as named; moby daemon/stop.go: SIGTERM, 10 s, SIGKILL.
    # sleep as PID 1 has no SIGTERM handler and the kernel drops it (pid_namespaces(7)): 128 + 9
    assert run("stop", "sleeper") == (0, "sleeper\n", "")
    (data,) = json.loads(run("inspect", "sleeper")[1])
    assert (data["State"]["ExitCode"], data["State"]["FinishedAt"]) == (137, "2017-01-20T00:00:10Z")
    # a stopped container: moby returns 304 Not Modified ("container is already stopped"), the CLI succeeds
    assert run("stop", "sleeper") == (0, "sleeper\n", "")
    quiet("run", "-d", "--name", "quick", "ubuntu", "sleep", "infinity")
    assert run("stop", "-t", "2", "quick") == (0, "quick\n", "")
    assert json.loads(run("inspect", "quick")[1])[0]["State"]["FinishedAt"] == "2017-01-20T00:00:02Z"


def test_httpd_stops_on_sigterm(home):
    quiet("run", "-d", "--name", "web", "httpd")
    out, err = run("logs", "web")[1:]
    assert out == "" and "AH00094: Command line: 'httpd -D FOREGROUND'" in err
    assert run("stop", "web") == (0, "web\n", "")
    (data,) = json.loads(run("inspect", "web")[1])
    assert (data["State"]["ExitCode"], data["State"]["FinishedAt"]) == (0, "2017-01-20T00:00:00Z")


def test_kill(home):
    quiet("run", "-d", "--name", "k", "busybox", "sleep", "infinity")
    assert run("kill", "-s", "TERM", "k") == (0, "k\n", "")                 # ignored by sleep as PID 1
    assert ps_row("k")["State"] == "running"
    assert run("container", "kill", "k") == (0, "k\n", "")                 # SIGKILL by default
    assert ps_row("k")["Status"] == "Exited (137) Less than a second ago"
    # moby docker-v29.7.2 daemon/server/router/container/container_routes.go ("cannot kill container: %s")
    # around daemon/errors.go errNotRunning ("container %s is not running")
    cid = json.loads(run("inspect", "k")[1])[0]["Id"]
    assert run("kill", "k") == (1, "", f"Error: cannot kill container: k: container {cid} is not running\n")


# --- exec and top on a running container ----------------------------------------------------------------------

def test_exec_needs_a_running_container(home):
    quiet("run", "--name", "done", "busybox", "true")
    cid = json.loads(run("inspect", "done")[1])[0]["Id"]
    # moby daemon/exec.go: errNotRunning
    assert run("exec", "done", "ls") == (1, "", f"Error: container {cid} is not running\n")
    assert run("exec", "nosuch", "ls") == (1, "", "Error: No such container: nosuch\n")


def test_exec_of_a_missing_program(home):
    quiet("run", "-dit", "--name", "box", "busybox")
    # moby daemon/server/router/container/exec.go writes the start error on the exec's output; runc exec.go
    # ("exec failed"), the shim's "OCI runtime exec failed"; exit 127 from daemon/errors.go
    assert run("exec", "box", "vim") == (127, "OCI runtime exec failed: exec failed: unable to start container "
                                              'process: exec: "vim": executable file not found in $PATH: unknown\n', "")
    assert run("exec", "box", "sh", "-c", "echo $HOSTNAME; pwd") == (0, f"{ps_row('box')['ID']}\n/\n", "")


def test_top_shows_pid_1_and_its_children(home):
    quiet("run", "-d", "--name", "loop", "busybox", "sh", "-c", "while true; do sleep 60; done")
    status, out, _ = run("container", "top", "loop")
    lines = out.splitlines()
    # docker/cli top.go: tabwriter(20, 1, 3) of ps -ef's titles (moby daemon/top_unix.go)
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    first, second = (line.split(None, 7) for line in lines[1:])
    assert first[0] == "root" and first[4:7] == ["00:00", "?", "00:00:00"]
    assert first[7] == "sh -c while true; do sleep 60; done"
    assert second[2] == first[1] and second[7] == "sleep 60"            # sleep's parent is PID 1
    run("kill", "loop")
    cid = json.loads(run("inspect", "loop")[1])[0]["Id"]
    assert run("top", "loop") == (1, "", f"Error: container {cid} is not running\n")


def test_the_lab_images_run_their_programs(home):
    # the stand-in images ship the programs their real counterparts have, where they have them
    for image, line, output in [
            ("ubuntu", "touch /t && chmod 600 /t && ls -l /t", "-rw------- 1 root root 0 2017-01-20 00:00 /t\n"),
            ("debian:jessie", "ln -s /etc/hostname /h && cat /h && whoami", "localhost\nroot\n"),
            ("centos", "uname && id && test -d /root && echo root", "Linux\nuid=0(root) gid=0(root) groups=0(root)\nroot\n"),
            ("busybox", "printf '%s\\n' ok && basename /a/b && dirname /a/b", "ok\nb\n/a\n")]:
        assert quiet("run", "--rm", image, "sh", "-c", line) == (0, output, ""), image
    assert quiet("run", "--rm", "ubuntu", "touch", "/t")[0] == 0
    assert quiet("run", "--rm", "node", "node", "-v") == (0, "v7.1.0\n", "")
    quiet("run", "-d", "--name", "duck", "mkerker/duckhunt")
    assert run("logs", "duck")[1] == "\n> duckhunt-js@1.0.0 start /usr/src/app\n> node server.js\n\n"
    assert ps_row("duck")["State"] == "running"


# --- the command Docker runs: Entrypoint + Cmd ----------------------------------------------------------------

def test_entrypoint_and_cmd_make_the_command_and_run_replaces_the_cmd(home):
    # moby daemon/container.go getEntrypointAndArgs: Entrypoint + Cmd; `run IMAGE ARGS` replaces the Cmd only,
    # `--entrypoint` replaces the Entrypoint and drops the image's Cmd (docker/cli container/opts.go)
    quiet("create", "--name", "base", "busybox")
    run("commit", "-c", 'ENTRYPOINT ["echo", "hello"]', "-c", 'CMD ["world"]', "base", "greet:1")
    assert quiet("run", "--name", "g1", "greet:1") == (0, "hello world\n", "")
    assert ps_row("g1")["Command"] == '"echo hello world"'
    assert quiet("run", "--rm", "greet:1", "there") == (0, "hello there\n", "")
    assert quiet("run", "--rm", "--entrypoint", "printf", "greet:1", "%s-%s\\n", "a", "b") == (0, "a-b\n", "")
    (data,) = json.loads(run("inspect", "g1")[1])
    assert (data["Path"], data["Args"]) == ("echo", ["hello", "world"])


# --- following: logs -f and processes that never end ------------------------------------------------------

def test_logs_follow_prints_as_the_process_runs_until_it_ends(home):
    quiet("run", "-d", "--name", "steps", "busybox", "sh", "-c", "echo one; sleep 2; echo two; exit 5")
    assert run("logs", "steps") == (0, "one\n", "")
    assert ps_row("steps")["State"] == "running"
    # docker/cli logs.go: -f follows until the container ends; the clock is pinned here, so labkit moves the
    # process's own time to its wake-up instead of waiting 2 s
    assert run("logs", "-f", "steps") == (0, "one\ntwo\n", "")
    assert ps_row("steps")["Status"].startswith("Exited (5) ")
    assert run("logs", "-f", "steps") == (0, "one\ntwo\n", "")            # an ended container: what it printed


def test_tail_f_and_sleep_infinity_keep_the_container_up(home, monkeypatch):
    quiet("run", "-d", "--name", "tailer", "busybox", "tail", "-f", "/dev/null")
    quiet("run", "-d", "--name", "forever", "ubuntu", "sleep", "infinity")
    at(monkeypatch, "2017-01-20T02:00:00Z")
    # moby State.String() with go-units HumanDuration
    assert ps_row("tailer")["Status"] == "Up 2 hours" and ps_row("forever")["Status"] == "Up 2 hours"
    assert run("stop", "tailer", "forever") == (0, "tailer\nforever\n", "")
    assert ps_row("tailer")["Status"] == "Exited (137) Less than a second ago"
    at(monkeypatch, "2017-01-20T02:02:00Z")
    assert ps_row("forever")["Status"] == "Exited (137) About a minute ago"


def test_a_foreground_run_that_never_ends_returns_and_says_so(home):
    # docker run would wait for ever (until Ctrl-C); off a terminal labkit returns 0 and says why on stderr
    status, out, err = quiet("run", "--name", "srv", "busybox", "sleep", "infinity")
    assert (status, out) == (0, "")
    assert err == ("labkit: srv is still running (sleep infinity: it runs until stopped); Docker would wait here, "
                   "labkit returns: `labkit stop srv` ends it\n")
    assert ps_row("srv")["State"] == "running"


# --- standard input from a real pipe and a real terminal ---------------------------------------------------

def _labkit(home) -> list:
    return [sys.executable, "-m", "labkit", "--home", str(home)]


def test_run_i_reads_a_pipe(home):
    # the example: echo 'echo hi' | docker run -i --rm IMAGE sh  ->  hi
    import subprocess

    quiet("pull", "busybox")
    done = subprocess.run(_labkit(home) + ["run", "-i", "--rm", "busybox", "sh"], input="echo hi\n",
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "hi\n", "")


@pytest.mark.skipif(sys.platform != "linux", reason="needs a pseudo-terminal")
def test_run_it_on_a_terminal_gives_the_shells_prompt(home):
    # docker run -it: the shell gets a terminal and prompts (busybox's ash: "/ # "); `exit 3` ends the
    # container with 3 (docker/cli run.go returns the container's status)
    import os
    import pty
    import select
    import subprocess
    import time

    quiet("pull", "busybox")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(_labkit(home) + ["run", "-it", "--name", "tty", "busybox"], stdin=follower,
                            stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 120
        while marker not in seen:
            assert time.monotonic() < deadline, seen
            if select.select([leader], [], [], 1)[0]:
                try:
                    seen += os.read(leader, 4096)
                except OSError:
                    break

    try:
        read_until(b"/ # ")
        os.write(leader, b"echo hi from ''$HOSTNAME\n")                  # the terminal echoes what is typed
        read_until(b"hi from " + ps_row("tty")["ID"].encode())
        os.write(leader, b"exit 3\n")
        assert proc.wait(timeout=120) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    text = seen.decode().replace("\r\n", "\n")
    assert "/ # " in text and f"hi from {ps_row('tty')['ID']}" in text
    assert ps_row("tty")["Status"] == "Exited (3) Less than a second ago"


def test_dev_is_the_runtimes_and_never_reaches_the_container(home):
    # runc mounts a tmpfs on /dev with its default devices and links (libcontainer/specconv/spec_linux.go
    # AllowedDevices, rootfs_linux.go setupDevSymlinks); busybox's own /dev is empty
    script = "ls /dev; ls -l /dev/null; cat /dev/null; echo data > /dev/null; echo 'ok' >> /dev/zero; echo $?"
    assert quiet("run", "--name", "devs", "busybox", "sh", "-c", script) == (0, (
        "core\nfd\nfull\nmqueue\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\nurandom\nzero\n"
        "crw-rw-rw- 1 root root 1, 3 1970-01-01 00:00 /dev/null\n0\n"), "")
    assert run("diff", "devs") == (0, "", "")                     # a mount's files are not the container's
    # labkit's limit (README): a new file on /dev would live on the runtime's tmpfs, which labkit does not keep;
    # Docker creates it there (outside the container's layer too), labkit refuses it
    assert quiet("run", "--rm", "busybox", "touch", "/dev/new") == (
        1, "", "touch: cannot touch '/dev/new': Permission denied\n")
