"""labkit's shell: each command's output, errors and exit status (table tests) on a container whose image has
the programs (stand-ins known by their names, as the lab images ship them); the shell's language, each shell's
wording, PATH resolution as the runtime and the shells do it, scripts, and a process suspended in `sleep`."""

from __future__ import annotations

import json
import math
import random

import pytest

from helpers.imagefactory import program_entries, stored_entry_image
from labkit.containers import Containers
from labkit.layers.writer import Entry
from labkit.shell import Machine, Shell, execute, mode_string, parse, parse_mode, run, run_argv

IMAGE = [
    Entry("etc", "dir", mtime=1_500_000_000), Entry("etc/hosts", data=b"127.0.0.1 localhost\n", mtime=1_500_000_000),
    Entry("etc/.hidden", data=b"h"), *program_entries("bash"),
    Entry("tools", "dir"), Entry("tools/ls", data=b"ELF", mode=0o755), Entry("tools/sh", "symlink", linkname="ls"),
    Entry("home", "dir"), Entry("home/u", "dir", uid=1000, gid=1000),
    Entry("home/u/notes", data=b"a\nb\n", uid=1000, gid=1000, mode=0o600),
]


@pytest.fixture
def c(labkit_home, monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", "2020-02-02T20:20:00Z")     # what the container writes gets this mtime
    stored_entry_image(labkit_home, [IMAGE], "shell:1")
    return Containers(labkit_home, rng=random.Random(3)).create("shell:1")


CASES = [
    # (command line, output, status)
    ("echo hello world", "hello world\n", 0),
    ("echo -n hi", "hi", 0),
    ("echo 'a  b' \"c\"", "a  b c\n", 0),
    ("cat /etc/hosts", "127.0.0.1 localhost\n", 0),
    ("cat /nope", "cat: /nope: No such file or directory\n", 1),
    ("cat /etc", "cat: /etc: Is a directory\n", 1),
    ("ls /etc", "hosts\n", 0),
    ("ls -a /etc", ".\n..\n.hidden\nhosts\n", 0),
    ("ls /etc/hosts", "/etc/hosts\n", 0),
    ("ls /nope", "ls: cannot access '/nope': No such file or directory\n", 2),
    ("ls -l /etc", "-rw-r--r-- 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("ls -l /tools", "-rwxr-xr-x 1 root root 3 1970-01-01 00:00 ls\n"
                     "lrwxrwxrwx 1 root root 2 1970-01-01 00:00 sh -> ls\n", 0),
    ("ls -l /home", "drwxr-xr-x 2 1000 1000 4096 1970-01-01 00:00 u\n", 0),
    ("ls -z", "ls: invalid option -- 'z'\n", 2),
    ("ln -s /etc /le && ls /le && ls -l /le", "hosts\nlrwxrwxrwx 1 root root 4 2020-02-02 20:20 /le -> /etc\n", 0),
    ("ls /etc /tools", "/etc:\nhosts\n\n/tools:\nls\nsh\n", 0),
    ("pwd", "/\n", 0),
    ("cd /etc && pwd && ls", "/etc\nhosts\n", 0),
    ("cd /nope", "sh: cd: /nope: No such file or directory\n", 1),
    ("cd /etc/hosts", "sh: cd: /etc/hosts: Not a directory\n", 1),
    ("echo a > /f; cat /f", "a\n", 0),
    ("echo a > /f; echo b >> /f; cat /f", "a\nb\n", 0),
    ("echo x > /etc", "sh: /etc: Is a directory\n", 1),
    ("echo x > /nope/f", "sh: /nope/f: No such file or directory\n", 1),
    ("cat /etc/hosts > /copy; cat /copy", "127.0.0.1 localhost\n", 0),
    ("touch /t && ls /t", "/t\n", 0),
    ("touch /nope/t", "touch: cannot touch '/nope/t': No such file or directory\n", 1),
    ("mkdir /d && ls -d /d", "/d\n", 0),
    ("mkdir /etc", "mkdir: cannot create directory '/etc': File exists\n", 1),
    ("mkdir /a/b", "mkdir: cannot create directory '/a/b': No such file or directory\n", 1),
    ("mkdir -p /a/b && ls /a", "b\n", 0),
    ("rm /nope", "rm: cannot remove '/nope': No such file or directory\n", 1),
    ("rm -f /nope", "", 0),
    ("rm /etc", "rm: cannot remove '/etc': Is a directory\n", 1),
    ("rm -r /etc && ls /etc", "ls: cannot access '/etc': No such file or directory\n", 2),
    ("rm -rf /", "rm: it is dangerous to operate recursively on '/'\n"
                 "rm: use --no-preserve-root to override this failsafe\n", 1),
    ("rm /etc/hosts; cat /etc/hosts", "cat: /etc/hosts: No such file or directory\n", 1),
    ("mv /etc/hosts /h && cat /h", "127.0.0.1 localhost\n", 0),
    ("mv /etc/hosts /home && ls /home", "hosts\nu\n", 0),
    ("mv /nope /x", "mv: cannot stat '/nope': No such file or directory\n", 1),
    ("mv /etc /etc/x", "mv: cannot move '/etc' to a subdirectory of itself, '/etc/x'\n", 1),
    ("cp /etc/hosts /h2 && cat /h2", "127.0.0.1 localhost\n", 0),
    ("cp /etc /e2", "cp: -r not specified; omitting directory '/etc'\n", 1),
    ("cp -r /etc /e2 && ls -a /e2", ".\n..\n.hidden\nhosts\n", 0),
    ("cp -r /tools /b2 && ls -l /b2", "-rwxr-xr-x 1 root root 3 2020-02-02 20:20 ls\n"
                                      "lrwxrwxrwx 1 root root 2 2020-02-02 20:20 sh -> ls\n", 0),
    ("cp /nope /x", "cp: cannot stat '/nope': No such file or directory\n", 1),
    ("chmod 600 /etc/hosts && ls -l /etc", "-rw------- 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("chmod u+x,g+w /etc/hosts && ls -l /etc", "-rwxrw-r-- 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("chmod +x /etc/hosts && ls -l /etc", "-rwxr-xr-x 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("chmod -r /etc/hosts && ls -l /etc", "--w------- 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("chmod zz /etc/hosts", "chmod: invalid mode: 'zz'\nTry 'chmod --help' for more information.\n", 1),
    ("chmod 644 /nope", "chmod: cannot access '/nope': No such file or directory\n", 1),
    ("ln -s /etc/hosts /l && cat /l && ls -l /l", "127.0.0.1 localhost\n"
                                                  "lrwxrwxrwx 1 root root 10 2020-02-02 20:20 /l -> /etc/hosts\n", 0),
    ("ln -s x /etc/hosts", "ln: failed to create symbolic link '/etc/hosts': File exists\n", 1),
    ("ln /etc/hosts /hard && cat /hard", "127.0.0.1 localhost\n", 0),
    ("ln /etc /hard", "ln: /etc: hard link not allowed for directory\n", 1),
    ("true && echo yes", "yes\n", 0),
    ("false && echo yes", "", 1),
    ("false || echo rescued", "rescued\n", 0),
    ("true || echo no", "", 0),
    ("false; echo after", "after\n", 0),
    ("cat /nope && echo no", "cat: /nope: No such file or directory\n", 1),
    ("sh -c 'echo inner; exit 3'", "inner\n", 3),
    ("bash -c \"echo a > /z\" && cat /z", "a\n", 0),
    ("sh -c 'cd /etc' && pwd", "/\n", 0),
    ("vim /etc/hosts", "sh: vim: command not found\n", 127),       # bash as sh: bash's words
    ("/bin/nope", "sh: /bin/nope: No such file or directory\n", 127),
    ("/etc/hosts", "sh: /etc/hosts: Permission denied\n", 126),
    ("/etc", "sh: /etc: Is a directory\n", 126),
    ("echo a | cat", "a\n", 0),
    ("&& echo", "sh: -c: line 1: syntax error near unexpected token `&&'\n", 2),
    ("echo 'open", "sh: -c: line 1: unexpected EOF while looking for matching `''\n"
                   "sh: -c: line 1: syntax error: unexpected end of file\n", 2),
    ("exit 4; echo no", "", 4),
    ("", "", 0),
    ("echo a\necho b", "a\nb\n", 0),
]


@pytest.mark.parametrize("line,output,status", CASES, ids=[c[0] or "empty" for c in CASES])
def test_command(c, line, output, status):
    res = run(c, line)
    assert (res.output, res.status) == (output, status)


def test_ops_are_reported(c):
    res = run(c, "echo x >> /etc/hosts && rm /tools/ls")
    assert [o.kind for o in res.ops] == ["copy-up", "write", "remove", "whiteout"]
    out, status, ops = res                                    # unpacks like a tuple
    assert status == 0 and ops == res.ops


def test_session_keeps_cwd(c):
    sh = Shell(c)
    sh.run("cd /home/u")
    assert sh.run("cat notes").output == "a\nb\n"
    assert sh.run("mkdir sub && cd sub && pwd").output == "/home/u/sub\n"


def test_run_argv(c):
    assert run_argv(c, ["echo", "a;b", ">", "x"]).output == "a;b > x\n"      # exec form: no shell parsing
    assert tuple(run_argv(c, ["/bin/sh"]))[:2] == ("", 0)
    assert tuple(run_argv(c, None))[:2] == ("", 0)
    assert run_argv(c, ["sh", "-c", "echo $HOME"]).output == "/root\n"


@pytest.mark.parametrize("spec,current,is_dir,expected", [
    ("755", 0o644, False, 0o755), ("4755", 0, False, 0o4755), ("u+x", 0o644, False, 0o744),
    ("go-r", 0o644, False, 0o600), ("a=r", 0o777, False, 0o444), ("+x", 0o644, False, 0o755),
    ("+w", 0o444, False, 0o644), ("u+s", 0o755, False, 0o4755), ("+t", 0o777, True, 0o1777),
    ("a+X", 0o644, True, 0o755), ("a+X", 0o644, False, 0o644), ("u=rwx,g=rx,o=", 0, False, 0o750),
    ("u+x-w", 0o644, False, 0o544),
])
def test_parse_mode(spec, current, is_dir, expected):
    assert parse_mode(spec, current, is_dir) == expected


@pytest.mark.parametrize("spec", ["zz", "u+q", "999", "u"])
def test_parse_mode_rejects(spec):
    with pytest.raises(ValueError):
        parse_mode(spec, 0o644, False)


@pytest.mark.parametrize("kind,mode,text", [
    ("dir", 0o755, "drwxr-xr-x"), ("file", 0o4755, "-rwsr-xr-x"), ("dir", 0o1777, "drwxrwxrwt"),
    ("symlink", 0o777, "lrwxrwxrwx"), ("file", 0o2640, "-rw-r-S---"),
])
def test_mode_string(kind, mode, text):
    assert mode_string(kind, mode) == text


def test_parse_is_plain_data():
    tree = parse("a 1 && b > f; c || d >> g")
    assert json.loads(json.dumps(tree)) == tree                           # a suspended process saves its code
    (first, second) = tree[1]
    assert first[1][2][0][2] == [[["lit", "a"]], [["lit", "1"]]]
    assert first[2][0][0] == "&&" and first[2][0][1][2][0][3] == [[1, ">", [["lit", "f"]]]]
    assert second[2][0][0] == "||"


# --- the language (XCU 2: parameters, loops, conditionals, substitution, pipelines, redirections) --------

LANGUAGE = [
    ("x=3; echo $x ${x} \"$x\" '$x'", "3 3 3 $x\n"),
    ("echo ${nope:-default} ${nope-unset} ${x:=set}; echo $x", "default unset set\nset\n"),
    ("v=abc; echo ${#v} ${v:+yes} ${nope:+no}.", "3 yes .\n"),
    ("set -- a 'b c'; echo $# \"$1\" \"$2\"; for w in \"$@\"; do echo [$w]; done", "2 a b c\n[a]\n[b c]\n"),
    ("v='a  b'; for w in $v; do echo $w; done; echo \"$v\"", "a\nb\na  b\n"),
    ("i=0; while [ $i -lt 3 ]; do echo $i; i=$((i + 1)); done", "0\n1\n2\n"),
    ("until true; do echo never; done; echo done", "done\n"),
    ("for i in 1 2 3 4; do if [ $i = 2 ]; then continue; fi; if [ $i = 4 ]; then break; fi; echo $i; done",
     "1\n3\n"),
    ("if false; then echo a; elif true; then echo b; else echo c; fi", "b\n"),
    ("echo $((7 / 2)) $((-7 / 2)) $((7 % 3)) $((2 * (3 + 4))) $((1 < 2 && 3 > 4))", "3 -3 1 14 0\n"),
    ("echo $(echo inner) `echo back` \"$(printf '%s-%s' a b)\"", "inner back a-b\n"),
    ("echo one two | wc -w", "2\n"),
    ("ls /etc | cat | head -n 1", "hosts\n"),
    ("echo /etc/h* /etc/n*", "/etc/hosts /etc/n*\n"),                   # no match: the word stays
    ("cat /nope 2>/dev/null; echo $?", "1\n"),
    ("cat /nope > /out 2>&1; cat /out", "cat: /nope: No such file or directory\n"),
    ("echo err >&2", "err\n"),
    ("cat < /etc/hosts", "127.0.0.1 localhost\n"),
    ("{ echo a; echo b; }", "a\nb\n"),
    ("(cd /etc; pwd); pwd", "/etc\n/\n"),
    ("! false && echo negated", "negated\n"),
    ("export GREETING=hi; sh -c 'echo $GREETING'", "hi\n"),
    ("LOCAL=x; sh -c 'echo [$LOCAL]'", "[]\n"),
    ("X=1 env | grep X", "sh: grep: command not found\n"),             # an image without grep
    ("test -d /etc && [ -f /etc/hosts ] && [ ! -e /nope ] && echo files", "files\n"),
    ("[ 1 -lt x ]", "sh: [: x: integer expression expected\n"),
    ("set -e; false; echo not reached", ""),
    ("set -e; false || echo handled; echo reached", "handled\nreached\n"),
    ("printf '%s=%d\\n' a 1 b 2", "a=1\nb=2\n"),
    ("echo ~ ~nobody", "/root ~nobody\n"),                              # no such user: the word stays
    ("eval 'echo evaluated'", "evaluated\n"),
    ("echo a &", "sh: &: not available in labkit's simulated shell\n"),
    ("cat <<EOF", "sh: here-documents (<<): not available in labkit's simulated shell\n"),
]


@pytest.mark.parametrize("line,output", LANGUAGE, ids=[x[0] for x in LANGUAGE])
def test_language(c, line, output):
    assert run(c, line, env={"PATH": "/bin", "HOME": "/root"}).output == output


def test_a_session_keeps_variables(c):
    sh = Shell(c)
    sh.run("name=labkit")
    assert sh.run("echo $name").output == "labkit\n"


# --- each shell's words: dash (Debian's sh), bash, busybox's ash ---------------------------------------------

def _image(labkit_home, entries, ref):
    stored_entry_image(labkit_home, [entries], ref)
    return Containers(labkit_home, rng=random.Random(5)).create(ref)


@pytest.fixture
def dash(labkit_home, monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", "2020-02-02T20:20:00Z")
    return _image(labkit_home, [Entry("etc", "dir"), *program_entries("dash"),
                                Entry("bin/dash", data=b"\x7fELF dash", mode=0o755)], "dash:1")


@pytest.fixture
def busybox(labkit_home, monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", "2020-02-02T20:20:00Z")
    entries = [Entry("bin", "dir"), Entry("bin/busybox", data=b"\x7fELF busybox", mode=0o755)]
    entries += [Entry(f"bin/{a}", "hardlink", linkname="bin/busybox") for a in ("sh", "echo", "ls", "cat", "sleep")]
    return _image(labkit_home, entries, "busybox:1")


# (shell, command line, output, status): dash 0.5.7/0.5.8 and busybox 1.25 wording, as the lab's 2016 images
DIALECTS = [
    ("dash", "vim", "sh: 1: vim: not found\n", 127),
    ("dash", "echo ok\nnope", "ok\nsh: 2: nope: not found\n", 127),
    ("dash", "echo x > /nope/f", "sh: 1: cannot create /nope/f: Directory nonexistent\n", 2),
    ("dash", "cd /nope", "sh: 1: cd: can't cd to /nope\n", 2),
    ("dash", "exit x", "sh: 1: exit: Illegal number: x\n", 2),
    ("dash", "if true; then", 'sh: 1: Syntax error: end of file unexpected (expecting "fi")\n', 2),
    ("dash", "echo 'a\\tb'", "a\tb\n", 0),                                 # dash's echo reads escapes
    ("busybox", "vim", "sh: vim: not found\n", 127),
    ("busybox", "echo x > /nope/f", "sh: can't create /nope/f: nonexistent directory\n", 1),
    ("busybox", "busybox echo applet; ls /bin | cat", "applet\nbusybox\ncat\necho\nls\nsh\nsleep\n", 0),
]


@pytest.mark.parametrize("shell,line,output,status", DIALECTS, ids=[f"{x[0]}: {x[1]}" for x in DIALECTS])
def test_each_shell_words_its_errors(request, shell, line, output, status):
    container = request.getfixturevalue(shell)
    res = run(container, line)
    assert (res.output, res.status) == (output, status)


# --- the runtime's exec: Go's exec.LookPath as runc calls it, and what the kernel does with the file --------

def test_execute_resolves_the_first_word_through_path(c):
    r = execute(c, ["cat", "/etc/hosts"], env={"PATH": "/usr/local/bin:/bin"})
    assert (r.output, r.status, r.error) == ("127.0.0.1 localhost\n", 0, None)


# Go's os/exec.LookPath errors (lp_unix.go), which runc returns before starting the process; Docker's exit
# codes from moby daemon/errors.go setExitCodeFromError (127 not found, 126 cannot execute)
RUNTIME_ERRORS = [
    (["apt-get", "update"], 'exec: "apt-get": executable file not found in $PATH', 127),
    (["/bin/nope"], 'exec: "/bin/nope": stat /bin/nope: no such file or directory', 127),
    (["/etc"], 'exec: "/etc": is a directory', 126),
    (["/etc/hosts"], 'exec: "/etc/hosts": permission denied', 126),
]


@pytest.mark.parametrize("argv,error,status", RUNTIME_ERRORS, ids=[x[0][0] for x in RUNTIME_ERRORS])
def test_execute_refuses_what_the_runtime_refuses(c, argv, error, status):
    r = execute(c, argv)
    assert (r.output, r.status, r.error) == ("", status, error)


def test_a_dockerfile_run_step_without_the_program(dash):
    # BuildKit runs RUN's shell form as ["/bin/sh", "-c", ...]: the shell starts, then cannot find apt-get
    r = execute(dash, ["/bin/sh", "-c", "apt-get update"])
    assert (r.output, r.status, r.error) == ("/bin/sh: 1: apt-get: not found\n", 127, None)


def test_default_path_is_dockers(c):
    assert execute(c, ["sh", "-c", "echo $PATH"], env={}).output == \
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"


def test_scripts_run_by_their_interpreter(labkit_home):
    entries = [*program_entries("dash"), Entry("bin/dash", data=b"\x7fELF dash", mode=0o755),
               Entry("usr", "dir"), Entry("usr/bin", "dir"), Entry("usr/bin/env", data=b"\x7fELF env", mode=0o755),
               Entry("app", "dir"),
               Entry("app/hello", data=b"#!/usr/bin/env bash\necho \"hello $1 from $0\"\n", mode=0o755),
               Entry("app/plain", data=b"echo no magic\n", mode=0o755),
               Entry("app/lost", data=b"#!/usr/bin/python3\nprint(1)\n", mode=0o755)]
    c = _image(labkit_home, entries, "scripts:1")
    assert execute(c, ["/app/hello", "you"]).output == "hello you from /app/hello\n"
    # the kernel runs neither a file without #! nor one whose interpreter is missing: runc prints and exits 255
    assert (execute(c, ["/app/plain"]).output, execute(c, ["/app/plain"]).status) == \
        ("exec /app/plain: exec format error\n", 255)
    assert execute(c, ["/app/lost"]).output == "exec /app/lost: no such file or directory\n"
    # a shell runs a file without #! itself; a missing interpreter is its "not found"
    assert run(c, "/app/plain").output == "no magic\n"
    assert (run(c, "/app/lost").output, run(c, "/app/lost").status) == ("sh: 1: /app/lost: not found\n", 127)


def test_a_program_the_image_has_but_labkit_cannot_run(labkit_home):
    c = _image(labkit_home, [*program_entries("bash"), Entry("bin/perl", data=b"\x7fELF perl", mode=0o755)], "p:1")
    r = execute(c, ["perl", "-e", "print 1"])
    assert r.status == 126 and r.error is None
    assert r.output == ("labkit: perl: not available in labkit's simulated shell (the image has /bin/perl; "
                        "labkit runs only its built-in programs)\n")


# --- time: a process suspended in sleep, saved as data, carried on later ------------------------------------

def test_a_sleeping_process_is_saved_and_resumed(c):
    m = Machine(c, 1000.0)
    m.start(["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 10; done"], {"PATH": "/bin"}, "/")
    m.run(1025)
    assert [(t, text) for _, text, t in m.out] == [(1000.0, "tick 0\n"), (1010.0, "tick 1\n"), (1020.0, "tick 2\n")]
    assert m.wake_time() == 1030.0 and not m.finished
    assert [p["argv"] for p in m.processes()] == [["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); "
                                                   "sleep 10; done"], ["sleep", "10"]]
    again = Machine.load(c, json.loads(json.dumps(m.dump())))
    again.run(1030)
    assert [text for _, text, _ in again.out] == ["tick 3\n"]


def test_sleep_ends_and_the_script_carries_on(c):
    m = Machine(c, 0.0)
    m.start(["sh", "-c", "echo a; sleep 1.5; echo b > /b; exit 7"], {"PATH": "/bin"}, "/")
    m.run(1)
    assert not m.finished and not c.exists("/b")
    m.run(math.inf)
    assert (m.status, m.t, c.read("/b")) == (7, 1.5, b"b\n")


def test_a_loop_that_never_sleeps_spins(c):
    m = Machine(c, 0.0)
    m.start(["sh", "-c", "while true; do :; done"], {"PATH": "/bin"}, "/")
    m.run(math.inf)
    assert m.spinning and not m.finished


def test_a_shell_reads_commands_from_its_input(c):
    m = Machine(c, 0.0)
    m.start(["sh"], {"PATH": "/bin"}, "/", stdin_open=True)
    m.run()
    assert m.waiting_for_input()
    m.feed("echo one\nfor i in a b\n")
    m.run()
    assert [t for _, t, _ in m.out] == ["one\n"] and m.waiting_for_input()     # the for loop is not complete
    m.feed("do echo $i; done\n")
    m.run()
    assert [t for _, t, _ in m.out] == ["one\n", "a\n", "b\n"]
    m.close_stdin()
    m.run()
    assert m.finished and m.status == 0
