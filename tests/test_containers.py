"""Containers: copy-on-write semantics of each file operation, the Ops they report, lifecycle, persistence."""

from __future__ import annotations

import errno
import os
import random

import pytest

from helpers.imagefactory import program_entries, stored_entry_image
from labkit.containers import CONTAINER_LAYER, Containers, Op, StartError, size_text
from labkit.errors import Conflict, NotFound
from labkit.layers.writer import Entry
from labkit.store import Store

HOSTS = b"127.0.0.1 localhost\n::1 localhost\n"

BASE = [
    Entry("etc", "dir"), Entry("etc/hosts", data=HOSTS), Entry("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n"),
    Entry("bin", "dir"), Entry("bin/ls", data=b"\x7fELF ls", mode=0o755), Entry("bin/sh", "symlink", linkname="ls"),
    Entry("usr", "dir"), Entry("usr/share", "dir"), Entry("usr/share/doc", "dir"),
    Entry("usr/share/doc/README", data=b"read me\n"), Entry("usr/share/doc/deep", "dir"),
    Entry("usr/share/doc/deep/x", data=b"x"),
    Entry("lib", "symlink", linkname="usr/share"), Entry("tmp", "dir", mode=0o1777),
]


# an image with programs (stand-ins known by their names): its containers' commands run
PROGRAMS = [Entry("etc", "dir"), Entry("etc/hosts", data=HOSTS), Entry("usr", "dir"), Entry("usr/share", "dir"),
            *program_entries("bash")]


@pytest.fixture
def containers(labkit_home):
    stored_entry_image(labkit_home, [BASE], "base:1")
    stored_entry_image(labkit_home, [PROGRAMS], "prog:1", cmd=["sleep", "infinity"])
    return Containers(labkit_home, rng=random.Random(7))


@pytest.fixture
def c(containers):
    return containers.create("base:1")


def upper_bytes(container) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(container.upper):
        total += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
    return total


def kinds(ops):
    return [o.kind for o in ops]


# --- reads never copy -----------------------------------------------------------------------------------

def test_create_and_read_copy_nothing(c):
    assert c.read("/etc/hosts") == HOSTS
    assert c.listdir("/") == ["bin", "etc", "lib", "tmp", "usr"]
    assert c.stat("/bin/sh").path == "/bin/ls"               # stat follows symlinks
    assert c.lstat("/bin/sh").type == "symlink"
    assert c.read("/lib/doc/README") == b"read me\n"         # a symlinked parent is followed in the view
    assert list(c.upper.iterdir()) == [] and c.history() == []
    assert c.stat("/tmp").mode == 0o1777
    assert c.stat("/etc/hosts").layer_index == 0


@pytest.mark.parametrize("big", [1 << 20, 200 << 20])
def test_cost_does_not_depend_on_image_size(labkit_home, big):
    big_file = labkit_home.parent / "big.bin"
    with open(big_file, "wb") as f:
        f.truncate(big)                                      # sparse: cheap to make, 'big' bytes to the layer
    stored_entry_image(labkit_home, [[Entry("data", "dir"), Entry("data/big", source=big_file),
                                      Entry("etc", "dir"), Entry("etc/motd", data=b"hi\n")]], "big:1")
    containers = Containers(labkit_home, rng=random.Random(1))
    c = containers.create("big:1")
    assert c.read("/etc/motd") == b"hi\n"
    assert c.stat("/data/big").size == big
    ops = c.write("/etc/new", b"x" * 1024)
    assert kinds(ops) == ["create"]
    assert upper_bytes(c) == 1024                            # same for 1 MB and 200 MB images
    assert c.size_rw() == 1024


# --- copy-up, whiteouts, opaque dirs ----------------------------------------------------------------------

def test_first_write_copies_the_whole_file_up(c):
    ops = c.append("/etc/hosts", b"10.0.0.1 db\n")
    assert kinds(ops) == ["copy-up", "write"]
    assert str(ops[0]) == f"copied up /etc/hosts ({len(HOSTS)} B)"
    assert c.read("/etc/hosts") == HOSTS + b"10.0.0.1 db\n"
    assert (c.upper / "etc" / "hosts").read_bytes() == HOSTS + b"10.0.0.1 db\n"
    assert kinds(c.append("/etc/hosts", b"more\n")) == ["write"]     # already up: no second copy
    assert c.stat("/etc/hosts").layer_index == CONTAINER_LAYER


def test_chmod_of_an_image_file_copies_it_up(c):
    ops = c.chmod("/etc/passwd", 0o600)
    assert kinds(ops) == ["copy-up", "chmod"] and str(ops[1]) == "chmod 600 /etc/passwd"
    assert c.stat("/etc/passwd").mode == 0o600
    assert c.read("/etc/passwd").startswith(b"root")


def test_remove_image_file_leaves_whiteout(c):
    ops = c.remove("/bin/ls")
    assert [str(o) for o in ops] == ["removed /bin/ls", "whiteout /bin/ls"]
    assert c.whiteouts == ["/bin/ls"]
    assert not c.exists("/bin/ls") and c.listdir("/bin") == ["sh"]
    assert not c.exists("/bin/sh") and c.lexists("/bin/sh")           # now dangling


def test_remove_own_file_leaves_no_whiteout(c):
    c.write("/tmp/x", b"1")
    assert kinds(c.remove("/tmp/x")) == ["remove"]
    assert c.whiteouts == [] and not c.exists("/tmp/x")


def test_delete_then_recreate_dir_is_opaque(c):
    ops = c.remove("/usr/share/doc", recursive=True)
    assert kinds(ops) == ["remove", "whiteout"]
    assert ops[0].detail == "4 entries"
    ops = c.mkdir("/usr/share/doc")
    assert kinds(ops) == ["mkdir", "opaque"]
    assert c.listdir("/usr/share/doc") == []                 # the image's contents stay hidden
    assert c.opaque_dirs == ["/usr/share/doc"] and c.whiteouts == []
    c.write("/usr/share/doc/README", b"new")
    assert c.read("/usr/share/doc/README") == b"new"


def test_remove_nonempty_dir_needs_recursive(c):
    with pytest.raises(OSError) as e:
        c.remove("/etc")
    assert e.value.errno == errno.ENOTEMPTY
    with pytest.raises(FileNotFoundError):
        c.remove("/nope")


def test_replace_image_dir_with_file_hides_subtree(c):
    c.remove("/usr/share/doc", recursive=True)
    c.write("/usr/share/doc", b"now a file")
    assert c.whiteouts == []                                  # the file itself replaces the image's dir
    assert c.stat("/usr/share/doc").type == "file"
    assert not c.exists("/usr/share/doc/README")
    with pytest.raises(NotADirectoryError):
        c.listdir("/usr/share/doc")


def test_a_looping_symlink_of_the_image_replaced_by_a_directory(labkit_home):
    # the image's /loop -> loop never resolves; once the container makes /loop a directory, the paths under
    # it are the container's alone (the image's index must not be asked to follow the old loop)
    stored_entry_image(labkit_home, [[Entry("etc", "dir"), Entry("loop", "symlink", linkname="loop")]], "loopy:1")
    c = Containers(labkit_home, rng=random.Random(7)).create("loopy:1")
    c.remove("/loop")
    c.mkdir("/loop")
    c.write("/loop/x", b"x")
    assert c.read("/loop/x") == b"x"
    assert c.listdir("/loop") == ["x"]
    assert not c.exists("/loop/y")


def test_rename_image_dir_copies_subtree_and_whites_out(c):
    ops = c.rename("/usr/share/doc", "/usr/share/docs")
    assert ops[0] == Op("rename", "/usr/share/doc", 0, "/usr/share/docs")
    assert ops[-1] == Op("whiteout", "/usr/share/doc")
    copied = sorted(o.path for o in ops if o.kind == "copy-up")
    assert copied == ["/usr/share/docs/README", "/usr/share/docs/deep/x"]
    assert c.read("/usr/share/docs/deep/x") == b"x"
    assert not c.exists("/usr/share/doc")
    assert c.whiteouts == ["/usr/share/doc"]


def test_rename_own_dir_is_a_plain_rename(c):
    c.mkdir("/tmp/a/b", parents=True)
    c.write("/tmp/a/b/f", b"1")
    ops = c.rename("/tmp/a", "/tmp/z")
    assert kinds(ops) == ["rename"]
    assert c.read("/tmp/z/b/f") == b"1" and not c.exists("/tmp/a")


def test_rename_file_over_file_and_errors(c):
    ops = c.rename("/etc/passwd", "/etc/hosts")
    assert kinds(ops) == ["remove", "whiteout", "rename", "copy-up", "whiteout"]
    assert c.read("/etc/hosts").startswith(b"root") and not c.exists("/etc/passwd")
    with pytest.raises(IsADirectoryError):
        c.rename("/etc/hosts", "/tmp")
    with pytest.raises(NotADirectoryError):
        c.rename("/tmp", "/etc/hosts")
    with pytest.raises(OSError) as e:
        c.rename("/usr", "/usr/share/u")
    assert e.value.errno == errno.EINVAL


def test_links(c):
    ops = c.symlink("hosts", "/etc/h")
    assert str(ops[0]) == "linked /etc/h -> hosts"
    assert c.read("/etc/h") == HOSTS
    ops = c.link("/etc/passwd", "/etc/pw")
    assert kinds(ops) == ["copy-up", "link"]                 # overlayfs copies a lower file up to link it
    c.append("/etc/pw", b"x\n")
    assert c.read("/etc/passwd").endswith(b"x\n")
    c.chmod("/etc/pw", 0o600)
    assert c.stat("/etc/passwd").mode == 0o600               # one inode, one mode
    with pytest.raises(FileExistsError):
        c.symlink("x", "/etc/hosts")


def test_mkdir_rules(c):
    with pytest.raises(FileExistsError):
        c.mkdir("/etc")
    with pytest.raises(FileNotFoundError):
        c.mkdir("/a/b")
    assert kinds(c.mkdir("/a/b/c", parents=True)) == ["mkdir", "mkdir", "mkdir"]
    assert c.mkdir("/a/b", parents=True) == []
    with pytest.raises(NotADirectoryError):
        c.mkdir("/etc/hosts/x", parents=True)
    with pytest.raises(FileExistsError):
        c.mkdir("/etc/hosts", parents=True)


def test_truncate_and_touch(c):
    assert kinds(c.truncate("/etc/hosts", 3)) == ["copy-up", "write"]
    assert c.read("/etc/hosts") == HOSTS[:3]
    assert kinds(c.touch("/etc/passwd")) == ["copy-up"]
    assert kinds(c.touch("/etc/new")) == ["create"]


def test_walk_is_merged_and_ordered(c):
    c.remove("/usr/share/doc/deep", recursive=True)
    c.write("/usr/share/doc/a", b"")
    paths = [n.path for n in c.walk("/usr")]
    assert paths == ["/usr/share", "/usr/share/doc", "/usr/share/doc/README", "/usr/share/doc/a"]


def test_history_is_kept(c):
    c.write("/x", b"1")
    c.remove("/bin/ls")
    assert [str(o) for o in c.history()] == ["created /x (1 B)", "removed /bin/ls", "whiteout /bin/ls"]


# --- independence and persistence --------------------------------------------------------------------

def test_two_containers_are_independent(containers):
    a, b = containers.create("base:1"), containers.create("base:1")
    a.write("/etc/hosts", b"a")
    b.remove("/etc/hosts")
    assert a.read("/etc/hosts") == b"a" and not b.exists("/etc/hosts")
    c = containers.create("base:1")
    assert c.read("/etc/hosts") == HOSTS


def test_state_survives_a_new_manager(containers, labkit_home):
    a = containers.create("prog:1", name="keeper")
    a.write("/etc/hosts", b"kept")
    a.remove("/usr/share", recursive=True)
    a.mkdir("/usr/share")
    containers.start(a)
    other = Containers(labkit_home)
    b = other.get("keeper")
    assert b.id == a.id and b.running
    assert b.read("/etc/hosts") == b"kept"
    assert b.opaque_dirs == ["/usr/share"] and b.listdir("/usr/share") == []
    assert len(b.history()) == len(a.history()) > 0


# --- lifecycle ------------------------------------------------------------------------------------------

def test_names_are_seeded_and_ids_unique(labkit_home):
    stored_entry_image(labkit_home, [BASE], "base:1")
    one = Containers(labkit_home, rng=random.Random(42)).create("base:1")
    names = {one.name}
    import shutil
    shutil.rmtree(labkit_home / "containers")
    two = Containers(labkit_home, rng=random.Random(42)).create("base:1")
    assert two.name == one.name and two.id == one.id
    assert len(one.id) == 64 and "_" in one.name and names


def test_lifecycle_states(containers, monkeypatch):
    # moby's State.String() (daemon/container/state.go): Created, "Up <duration>", "Exited (<code>) <duration> ago"
    monkeypatch.setenv("LABKIT_NOW", "2026-01-01T00:00:00Z")
    c = containers.create("prog:1", name="web", cmd=["sh", "-c", "sleep 600; exit 3"])
    assert c.state == "created" and c.status() == "Created"
    containers.start("web")
    monkeypatch.setenv("LABKIT_NOW", "2026-01-01T00:05:00Z")
    assert containers.get("web").status() == "Up 5 minutes"
    monkeypatch.setenv("LABKIT_NOW", "2026-01-01T00:12:00Z")       # the sleep ended at 00:10, and the script
    assert containers.get("web").status() == "Exited (3) 2 minutes ago"
    with pytest.raises(Conflict):
        containers.create("prog:1", name="web")


def test_stop_waits_the_grace_period_then_kills(containers, monkeypatch):
    # moby daemon/stop.go: the stop signal, then SIGKILL after the timeout; a shell as PID 1 ignores SIGTERM
    monkeypatch.setenv("LABKIT_NOW", "2026-01-01T00:00:00Z")
    c = containers.create("prog:1", name="sleeper")
    containers.start(c)
    c = containers.stop("sleeper")
    assert (c.state, c.exit_code, c.config["finished_at"]) == ("exited", 137, "2026-01-01T00:00:10Z")
    d = containers.create("prog:1", cmd=["sleep", "5"])
    containers.start(d)
    containers.stop(d, timeout=30)                                   # ends by itself within the grace period
    assert (d.exit_code, d.config["finished_at"]) == (0, "2026-01-01T00:00:05Z")
    e = containers.create("prog:1")
    containers.start(e)
    containers.stop(e, timeout=0)
    assert (e.exit_code, e.config["finished_at"]) == (137, "2026-01-01T00:00:00Z")
    assert containers.stop(e).exit_code == 137                        # a stopped container is left as it is


def test_kill(containers):
    c = containers.create("prog:1", name="k")
    containers.start(c)
    containers.kill(c, signal="TERM")                                # ignored by sleep as PID 1
    assert containers.get("k").running
    c = containers.kill("k")
    assert (c.state, c.exit_code) == ("exited", 137)
    with pytest.raises(Conflict, match=f"cannot kill container: k: container {c.id} is not running"):
        containers.kill("k")


def test_start_refuses_a_command_the_image_lacks(containers):
    c = containers.create("prog:1", cmd=["vim"])
    with pytest.raises(StartError, match='exec: "vim": executable file not found in \\$PATH') as e:
        containers.start(c)
    assert e.value.status == 127
    assert (c.state, c.exit_code, c.status()) == ("created", 127, "Created")
    assert "failed to create task for container" in c.error


def test_run_and_exec(containers):
    c, out, status, ops = containers.run("prog:1", ["sh", "-c", "echo hi > /greeting; cat /greeting"])
    assert (out, status) == ("hi\n", 0) and kinds(ops) == ["create"]
    assert containers.get(c.id).state == "exited" and containers.get(c.id).exit_code == 0
    c2, out, status, _ = containers.run("prog:1", ["false"])
    assert status == 1 and containers.get(c2.id).exit_code == 1
    with pytest.raises(Conflict, match=f"container {c.id} is not running"):
        containers.exec(c.id, ["ls"])
    d, *_ = containers.run("prog:1", detach=True)
    assert d.running
    r = containers.exec(d.id, ["cat", "/etc/hosts"])
    assert (r.output, r.status) == (HOSTS.decode(), 0)
    r = containers.exec(d.id, ["vim"])
    assert (r.status, r.error) == (127, "OCI runtime exec failed: exec failed: unable to start container process: "
                                        'exec: "vim": executable file not found in $PATH: unknown')


def test_a_shell_without_input_exits_at_once(containers):
    c = containers.create("prog:1", cmd=["bash"])
    containers.start(c)
    assert (c.state, c.exit_code) == ("exited", 0)
    d = containers.create("prog:1", cmd=["bash"], tty=True, interactive=True)     # docker run -dit
    containers.start(d)
    assert d.running


def test_rm_needs_force_when_up(containers):
    c = containers.create("prog:1", name="busy")
    containers.start(c)
    with pytest.raises(Conflict, match="container is running"):
        containers.rm("busy")
    assert containers.rm("busy", force=True) == "busy"
    with pytest.raises(NotFound):
        containers.get("busy")
    assert not c.root.exists()


def test_ps_lists_and_get_by_prefix(containers):
    a = containers.create("prog:1")
    b = containers.create("prog:1")
    containers.start(b)
    assert [x.id for x in containers.list()] == [b.id]
    assert {x.id for x in containers.list(all=True)} == {a.id, b.id}
    assert containers.get(a.id[:5]).id == a.id
    with pytest.raises(NotFound):
        containers.get("zzz")


def test_an_ended_rm_container_goes_away(containers):
    c = containers.create("prog:1", cmd=["true"], auto_remove=True)
    containers.start(c)
    assert c.root.exists() and containers.list(all=True) == []
    assert not c.root.exists()


def test_rmi_refuses_image_in_use(containers, labkit_home):
    c = containers.create("base:1")
    store = Store(labkit_home)
    with pytest.raises(Conflict, match="container"):
        store.rmi("base:1", containers=containers.in_use())
    lines = store.rmi("base:1", force=True, containers=containers.in_use())
    assert lines[0] == "Untagged: base:1" and not any(x.startswith("Deleted") for x in lines)
    assert containers.get(c.id).read("/etc/hosts") == HOSTS          # image kept (dangling) for the container
    containers.rm(c)
    assert not containers.in_use()


def test_ps_sizes(containers, labkit_home):
    c = containers.create("base:1")
    c.write("/data", b"x" * 1500)
    c.append("/etc/hosts", b"1\n")
    rw, virtual = containers.sizes(c)
    image_size = Store(labkit_home).image_size(Store(labkit_home).resolve("base:1"))
    assert rw == 1500 + len(HOSTS) + 2
    assert virtual == rw + image_size
    assert size_text(rw, virtual) == "1.54 kB (virtual 1.62 kB)"  # the image: its layers' files
    use = containers.in_use()
    (info,) = next(iter(use.values()))
    assert info == {"id": c.id, "name": c.name, "size": rw, "running": False, "image": "base:1",
                    "command": "/bin/sh", "created": c.created, "status": "Created"}


def test_scratch_container(containers):
    c = containers.create("scratch")
    assert c.listdir("/") == [] and c.image_id is None
    c.mkdir("/bin")
    assert c.listdir("/") == ["bin"]



def test_ps_order_is_newest_first_with_a_pinned_clock(containers, monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", "2026-01-01T00:00:00Z")
    made = [containers.create("base:1") for _ in range(4)]
    assert [c.id for c in containers.list(all=True)] == [c.id for c in reversed(made)]
