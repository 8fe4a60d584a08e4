"""The container verbs of the `labkit` command, end to end on the lab images (served by an in-process lab
registry set as the docker.io mirror): docker's outputs, states and errors."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

import pytest

from labkit.cli import main


def run(*argv, stdin=None):
    """Return (status, stdout, stderr) of one in-process labkit command."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def home(mirrored_home, monkeypatch):
    """Return the test's home (the lab images' registry as its docker.io mirror); pinned clock and container IDs."""
    monkeypatch.setenv("LABKIT_NOW", "2017-01-20T00:00:00Z")
    monkeypatch.setenv("LABKIT_SEED", "7")
    return mirrored_home


def test_run_pulls_implicitly_on_stderr_then_prints_the_command_output(home):
    status, out, err = run("run", "busybox", "echo", "hello world")
    assert status == 0 and out == "hello world\n"
    assert err.splitlines()[0] == "Unable to find image 'busybox:latest' locally"
    assert "Status: Downloaded newer image for busybox:latest" in err
    assert "docker.io/library/busybox:latest" not in err  # only `pull` prints the canonical name
    status, out, err = run("run", "busybox", "echo", "again")
    assert (status, out, err) == (0, "again\n", "")  # stored now: no pull


def test_run_status_is_the_command_status_and_ps_shows_exited(home):
    status, out, err = run("run", "--name", "failing", "busybox", "sh", "-c", "cat /nope")
    assert (status, out) == (1, "") and err.endswith("\ncat: /nope: No such file or directory\n")  # its stderr
    lines = run("ps", "-a")[1].splitlines()
    assert lines[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"]
    assert "Exited (1)" in lines[1] and lines[1].rstrip().endswith("failing")
    assert run("ps")[1].splitlines()[1:] == []  # nothing is Up


def test_detached_run_exec_diff_commit_history(home):
    status, out, _ = run("run", "-d", "--name", "web", "httpd")
    assert status == 0 and len(out.strip()) == 64
    status, out, _ = run("exec", "web", "sh", "-c", "echo hi > /usr/local/apache2/htdocs/index.html && rm -r /var")
    assert status == 0
    assert run("ps")[1].splitlines()[1].rstrip().endswith("web")
    diff = run("diff", "web")[1].splitlines()
    assert "D /var" in diff and "C /usr/local/apache2/htdocs" in diff
    assert diff == sorted(diff, key=lambda line: line[2:])
    status, out, _ = run("commit", "-m", "my page", "-c", "EXPOSE 8080", "web", "mysite:1")
    assert status == 0 and out.startswith("sha256:") and len(out.strip()) == 71
    hist = run("history", "mysite:1")[1].splitlines()
    assert hist[0].split()[:2] == ["IMAGE", "CREATED"]
    assert hist[1].startswith(out.strip()[7:19]) and "my page" in hist[1]
    assert any(line.startswith("<missing>") for line in hist[2:])
    config = json.loads(run("inspect", "mysite:1")[1])[0]["Config"]
    assert "8080/tcp" in config["ExposedPorts"]


def test_exec_needs_an_up_container_and_rm_refuses_a_running_one(home):
    run("create", "-it", "--name", "c1", "busybox")              # sh waiting on a terminal: Up once started
    status, _, err = run("exec", "c1", "ls")
    assert status == 1 and "is not running" in err
    assert run("start", "c1")[1] == "c1\n"
    status, _, err = run("rm", "c1")
    assert status == 1 and "stop the container" in err
    assert run("stop", "c1")[1] == "c1\n"
    assert run("rm", "c1") == (0, "c1\n", "")


def test_rmi_refuses_an_image_a_container_uses_unless_forced(home):
    run("create", "--name", "user", "busybox")
    status, _, err = run("rmi", "busybox")
    assert status == 1 and "container" in err
    run("rm", "user")
    assert run("rmi", "busybox")[0] == 0


def test_ps_size_shows_read_write_and_virtual(home):
    run("run", "-dit", "--name", "s", "busybox")
    run("exec", "s", "sh", "-c", "echo 12345 > /big")
    out = run("ps", "-s")[1].splitlines()
    assert out[0].rstrip().endswith("SIZE")
    assert "6B (virtual 1.07MB)" in out[1]  # Docker 29 (go-units since v0.4: no space); the image's files
    row = json.loads(run("ps", "-s", "--format", "json")[1].splitlines()[0])
    assert row["Names"] == "s" and row["Size"].startswith("6B")
    lab_text = run("--image-store", "graphdriver", "ps", "-s")[1].splitlines()  # the lab text's Docker
    assert "6 B (virtual 1.07 MB)" in lab_text[1]


def test_import_makes_a_single_layer_image(home, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"hello from a tarball\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "rootfs.tar.gz"
    path.write_bytes(gzip.compress(buf.getvalue()))
    status, out, _ = run("import", "-m", "from a tarball", str(path), "imported:1")
    assert status == 0 and out.startswith("sha256:")
    assert len(json.loads(run("inspect", "imported:1")[1])[0]["RootFS"]["Layers"]) == 1
    status, _, err = run("run", "imported:1", "cat", "/hello.txt")     # one file, no programs: no cat
    assert status == 127 and 'exec: "cat": executable file not found in $PATH' in err


def test_unpack_writes_a_standalone_tree(home, tmp_path):
    run("pull", "debian:jessie")
    status, out, _ = run("unpack", "debian:jessie", str(tmp_path / "rootfs"))
    assert status == 0 and out.startswith("unpacked debian:jessie")
    assert "jessie" in (tmp_path / "rootfs" / "etc" / "os-release").read_text()


def test_unknown_container_is_one_line_error(home):
    status, _, err = run("diff", "nosuch")
    assert status == 1 and err == "Error: No such container: nosuch\n"


def test_system_df_verbose_lists_containers_with_their_image_and_command(home):
    run("run", "--name", "counted", "busybox", "sh", "-c", "echo 1 > /n")
    out = run("system", "df", "-v")[1]
    section = out.split("Containers space usage:")[1].splitlines()
    row = next(line for line in section if line.rstrip().endswith("counted"))
    assert "busybox" in row and '"sh -c \'echo 1 > /n\'"' in row and "Exited (0)" in row and " 2B " in row


def test_container_sh_runs_the_built_in_shell(home):
    from labkit.lab import Lab

    c = Lab().create("busybox", name="shelly")
    output, status, ops = c.sh("echo hi > /greeting && cat /greeting")
    assert (output, status) == ("hi\n", 0) and [op.kind for op in ops][:1] == ["create"]


def test_inspect_a_container_with_docker_keys(home):
    run("run", "--name", "looked-at", "busybox", "echo", "hi")
    status, out, _ = run("inspect", "looked-at")
    (data,) = json.loads(out)
    assert status == 0 and data["Name"] == "/looked-at" and data["Path"] == "echo" and data["Args"] == ["hi"]
    assert data["State"]["Status"] == "exited" and data["State"]["ExitCode"] == 0
    assert data["Image"].startswith("sha256:") and data["Config"]["Image"] == "busybox"
    assert data["GraphDriver"]["Data"]["UpperDir"].endswith("/upper")
    lowers = data["GraphDriver"]["Data"]["LowerDir"].split(":")     # where the image's layers' files are
    assert lowers and all(os.path.isfile(p) and os.path.basename(p) == "pack" for p in lowers)


def test_the_facade_reads_like_the_lesson(home):
    import labkit

    student = labkit.Lab()
    assert student.pull("debian:jessie").status == "Downloaded newer image"
    assert [r.name for r in student.search("zookeeper", limit=3)][:1] == ["jplock/zookeeper"]
    container, output, status, _ops = student.run("debian:jessie", ["cat", "/etc/os-release"])
    assert status == 0 and "jessie" in output
    student.tag("debian:jessie", "localhost:1/never-pushed:1")
    assert "localhost:1/never-pushed" in [r.repository for r in student.images()]
