"""The `labkit` command's contract: docker's verbs and formats, JSON for scripts, one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from labkit.cli import main
from labkit.store import Store

from helpers.imagefactory import layer, make_image, store_image

NOW = "2016-12-01T00:00:00Z"


def run(*argv, home=None):
    """Return (status, stdout, stderr) of one in-process labkit command."""
    out, err = io.StringIO(), io.StringIO()
    args = (["--home", str(home)] if home else []) + list(argv)
    status = main(args, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def two_images(labkit_home, monkeypatch):
    """Store debian:jessie and a web app sharing its base layer; return the Store. The home plays the lab
    text's Docker (the graphdriver store); tests/test_image_stores.py shows Docker 29's."""
    from labkit.home import save_settings

    monkeypatch.setenv("LABKIT_NOW", NOW)
    save_settings(labkit_home, {"features": {"containerd-snapshotter": False}})
    store = Store(labkit_home)
    base = layer({"etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 8 (jessie)"\n'})
    store_image(store, make_image([base], created="2016-10-01T00:00:00Z"), "debian:jessie")
    store_image(store, make_image([base, {"app/app.jar": b"PK" + b"x" * 5000}], created="2014-11-01T00:00:00Z"),
                "hcscompany/clock")
    return store


def test_images_table_lists_both_in_docker_format(two_images):
    status, out, err = run("images")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:2] == ["debian", "jessie"]
    assert "2 months ago" in lines[1]
    assert lines[2].split()[:2] == ["hcscompany/clock", "latest"]
    assert "2 years ago" in lines[2]


def test_images_json_lines_have_docker_keys(two_images):
    status, out, _ = run("images", "--format", "json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and len(rows) == 2
    assert {"ID", "Repository", "Tag", "CreatedSince", "Size"} <= set(rows[0])
    assert rows[0]["Repository"] == "debian" and rows[0]["CreatedSince"] == "2 months ago"


def test_images_quiet_and_repository_filter(two_images):
    ids = run("images", "-q")[1].split()
    assert len(ids) == 2 and all(len(i) == 12 for i in ids)
    out = run("images", "debian")[1]
    assert "debian" in out and "hcscompany" not in out


def test_tag_then_rmi_prints_docker_lines(two_images):
    assert run("tag", "debian:jessie", "mydebian:1")[0] == 0
    assert "mydebian" in run("images")[1]
    status, out, _ = run("rmi", "mydebian:1")
    assert status == 0 and out.splitlines() == ["Untagged: mydebian:1"]


def test_inspect_prints_a_json_array_with_docker_keys(two_images):
    status, out, _ = run("inspect", "debian:jessie")
    data = json.loads(out)
    assert status == 0 and isinstance(data, list) and len(data) == 1
    assert data[0]["RepoTags"] == ["debian:jessie"]
    assert data[0]["Id"].startswith("sha256:") and data[0]["RootFS"]["Type"] == "layers"


def test_inspect_missing_is_one_line_error_and_exit_1(two_images):
    status, out, err = run("inspect", "nope:1")
    assert status == 1 and json.loads(out) == []
    assert err.count("\n") == 1 and "nope:1" in err


def test_system_df_verbose_shows_shared_layer(two_images):
    status, out, _ = run("system", "df", "-v")
    assert status == 0 and "SHARED SIZE" in out and "UNIQUE SIZE" in out


@pytest.mark.parametrize("argv, code, needle", [
    (["tag", "debian:jessie", "Bad:Ref:x"], 1, "invalid reference"),
    (["images", "--bogus"], 2, "unrecognized arguments"),
    (["no-such-command"], 2, "invalid choice"),
    (["rmi", "debian:nosuch"], 1, "No such image"),
])
def test_errors_are_one_line_with_docker_exit_codes(two_images, argv, code, needle):
    status, _, err = run(*argv)
    assert status == code
    first = err.splitlines()[0]
    assert needle.lower() in first.lower()
    assert "Traceback" not in err


# docker/cli v29.7.2 with its vendored moby/moby/client v0.5.1 and distribution/reference v0.6.0: the client
# parses the reference before it asks the daemon anything (so `commit` of no such container still says this);
# pull/push/commit/create return ParseNormalizedNamed's (create: ParseAnyReference's) error as it is, main()
# prints it with no "Error: " (cmd/docker/docker.go), exit 1; run wraps it in toStatusError ("docker: ...",
# exit 125; Docker's blank line and "Run 'docker run --help'" line are left out); tag wraps it in
# client/image_tag.go's "error parsing reference: %q is not a valid repository/tag: %w".
LOWERCASE = "invalid reference format: repository name (library/Bad) must be lowercase"
HEX64 = "a" * 64


@pytest.mark.parametrize("argv, code, message", [
    (["tag", "debian:jessie", "Bad:Tag"], 1, f'error parsing reference: "Bad:Tag" is not a valid repository/tag: '
                                              f"{LOWERCASE}"),
    (["tag", "Bad", "fine:1"], 1, f'error parsing reference: "Bad" is not a valid repository/tag: {LOWERCASE}'),
    (["image", "tag", "debian:jessie", "Bad:Tag"], 1,
     f'error parsing reference: "Bad:Tag" is not a valid repository/tag: {LOWERCASE}'),
    (["pull", "Bad"], 1, LOWERCASE),
    (["image", "pull", "Bad:Tag"], 1, LOWERCASE),
    (["push", "Bad"], 1, LOWERCASE),
    (["commit", "nosuch", "Bad:Tag"], 1, LOWERCASE),
    (["create", "Bad"], 1, LOWERCASE),
    (["run", "Bad"], 125, f"docker: {LOWERCASE}"),
    (["container", "run", "Bad", "true"], 125, f"docker: {LOWERCASE}"),
    (["pull", HEX64], 1, f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings"),
    (["pull", "debian@sha256:123"], 1, "invalid reference format"),
    (["push", "a/b:"], 1, "invalid reference format"),
    (["tag", "debian:jessie", "UPPER.example.com/x:1"], 0, ""),      # a host may have capitals
])
def test_invalid_references_print_what_docker_prints(two_images, argv, code, message):
    status, out, err = run(*argv)
    assert (status, out, err) == (code, "", message + "\n" if message else "")


def test_home_flag_wins_over_environment(two_images, tmp_path):
    other = tmp_path / "other-home"
    status, out, _ = run("images", "--format", "json", home=other)
    assert status == 0 and out == ""
    assert len(run("images", "--format", "json")[1].splitlines()) == 2


def test_console_script_runs_as_a_process(two_images):
    proc = subprocess.run([sys.executable, "-m", "labkit", "images", "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.split()) == 2


def test_the_docker_magic_prints_the_same_reference_error(two_images, capsys):
    from labkit.magic import run_line

    assert run_line("docker pull Bad") == 1
    assert capsys.readouterr().err == LOWERCASE + "\n"
