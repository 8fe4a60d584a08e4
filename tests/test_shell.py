"""The built-in shell: each command's output, errors and exit status (table tests), run on a container."""

from __future__ import annotations

import random

import pytest

from helpers.imagefactory import stored_entry_image
from labkit.containers import Containers
from labkit.layers.writer import Entry
from labkit.shell import Shell, mode_string, parse, parse_mode, run, run_argv

IMAGE = [
    Entry("etc", "dir", mtime=1_500_000_000), Entry("etc/hosts", data=b"127.0.0.1 localhost\n", mtime=1_500_000_000),
    Entry("etc/.hidden", data=b"h"), Entry("bin", "dir"), Entry("bin/ls", data=b"ELF", mode=0o755),
    Entry("bin/sh", "symlink", linkname="ls"), Entry("home", "dir"), Entry("home/u", "dir", uid=1000, gid=1000),
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
    ("ls -l /bin", "-rwxr-xr-x 1 root root 3 1970-01-01 00:00 ls\n"
                   "lrwxrwxrwx 1 root root 2 1970-01-01 00:00 sh -> ls\n", 0),
    ("ls -l /home", "drwxr-xr-x 2 1000 1000 4096 1970-01-01 00:00 u\n", 0),
    ("ls -z", "ls: invalid option -- 'z'\n", 2),
    ("ln -s /etc /le && ls /le && ls -l /le", "hosts\nlrwxrwxrwx 1 root root 4 2020-02-02 20:20 /le -> /etc\n", 0),
    ("ls /etc /bin", "/bin:\nls\nsh\n\n/etc:\nhosts\n", 0),
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
    ("cp -r /bin /b2 && ls -l /b2", "-rwxr-xr-x 1 root root 3 2020-02-02 20:20 ls\n"
                                    "lrwxrwxrwx 1 root root 2 2020-02-02 20:20 sh -> ls\n", 0),
    ("cp /nope /x", "cp: cannot stat '/nope': No such file or directory\n", 1),
    ("chmod 600 /etc/hosts && ls -l /etc", "-rw------- 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("chmod u+x,g+w /etc/hosts && ls -l /etc", "-rwxrw-r-- 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("chmod +x /etc/hosts && ls -l /etc", "-rwxr-xr-x 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("chmod -r /etc/hosts && ls -l /etc", "--w------- 1 root root 20 2017-07-14 02:40 hosts\n", 0),
    ("chmod zz /etc/hosts", "chmod: invalid mode: 'zz'\n", 1),
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
    ("vim /etc/hosts", "sh: vim: not available in labkit's simulated shell\n", 127),
    ("apt-get install curl", "sh: apt-get: not available in labkit's simulated shell\n", 127),
    ("echo a | cat", "sh: pipes are not available in labkit's simulated shell\n", 2),
    ("&& echo", "sh: syntax error near unexpected token `&&'\n", 2),
    ("echo 'open", "sh: syntax error: No closing quotation\n", 2),
    ("exit 4; echo no", "", 4),
    ("", "", 0),
    ("echo a\necho b", "a\nb\n", 0),
]


@pytest.mark.parametrize("line,output,status", CASES, ids=[c[0] or "empty" for c in CASES])
def test_command(c, line, output, status):
    res = run(c, line)
    assert (res.output, res.status) == (output, status)


def test_ops_are_reported(c):
    res = run(c, "echo x >> /etc/hosts && rm /bin/ls")
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
    assert run_argv(c, ["sh", "-c", "echo $HOME"]).output == "$HOME\n"       # no variables, said plainly


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


def test_parse_connectors():
    assert parse("a 1 && b > f; c || d >> g") == [
        ("", ["a", "1"], []), ("&&", ["b"], [(">", "f")]), (";", ["c"], []), ("||", ["d"], [(">>", "g")])]
