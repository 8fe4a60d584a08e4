"""Bad input to the image verbs in both image stores: Docker's message and exit status, and nothing in the home
changes (no setting, record, blob, layer or container).

Which Docker each expectation comes from:
- templates: docker/cli cli/command/formatter (formatter.go: "template parsing error: " + Go's text/template
  error; the context type names image.go *formatter.imageContext, container.go *formatter.ContainerContext,
  disk_usage.go *formatter.diskUsageImagesContext, cli/command/image/formatter_history.go
  *image.historyContext, cli/command/registry/formatter_search.go *registry.searchContext): the same in
  Docker 28 and 29, so both stores expect them;
- `--tree` with another flag: docker/cli v29 cli/command/image/list.go shouldUseTree;
- IDs: Docker 29 (containerd, moby daemon/containerd) knows images by the digest their name points at,
  Docker 28 (graphdriver, moby daemon/images) by config digest: each store's ID is "No such image" in the
  other; conflicts name the image by its own store's ID (image_delete.go in each);
- daemon.json: dockerd's "unable to configure the Docker daemon with file ..." (labkit says labkit), with
  the line; an unknown feature is ignored (moby daemon/config features map) and labkit warns.
"""

from __future__ import annotations

import json

import pytest

from labkit.oci import Platform

from helpers.cli import home_state, run, stock

STORES = ("containerd", "graphdriver")
CONTEXTS = {"images": "*formatter.imageContext", "ps": "*formatter.ContainerContext",
            "history": "*image.historyContext", "system": "*formatter.diskUsageImagesContext",
            "search": "*registry.searchContext"}


@pytest.fixture
def stocked(lab, monkeypatch):
    """The lab's busybox (an index) and ubuntu pulled, a stopped container on busybox; returns the Lab."""
    monkeypatch.setenv("LABKIT_NOW", "2017-01-15T00:00:00Z")
    stock(lab, "keeper")
    return lab


def ids(lab) -> dict:
    """Return {store: the busybox image's ID there} (the full digest)."""
    return {store: run("--image-store", store, "inspect", "-f", "{{.Id}}", "busybox")[1].strip() for store in STORES}


def unchanged(home, store: str, argv: list, stdin: str = "") -> "tuple[int, str, str]":
    """Run `argv` in `store`; assert the home is as before; return (status, stdout, stderr)."""
    before = home_state(home)
    result = run("--image-store", store, *argv, stdin=stdin)
    assert home_state(home) == before, f"{argv} changed the home"
    return result


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("argv, field", [
    (["images", "--format", "{{.Foo}}"], "Foo"),
    (["ps", "-a", "--format", "{{.Foo}}"], "Foo"),
    (["history", "--format", "{{.Tags}}", "busybox"], "Tags"),
    (["system", "df", "--format", "{{.Images}}"], "Images"),
    (["search", "--format", "{{.Stars}}", "busybox"], "Stars"),  # the field is StarCount
])
def test_an_unknown_template_field_is_gos_error(stocked, labkit_home, store, argv, field):
    message = (f'template parsing error: template: :1:2: executing "" at <.{field}>: can\'t evaluate field '
               f"{field} in type {CONTEXTS[argv[0]]}\n")
    assert unchanged(labkit_home, store, argv) == (1, "", message)


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("argv, status, message", [
    (["images", "--format", "table {{.Repository}"], 1, 'template: :1: unexpected "}" in operand'),
    (["images", "--format", "{{.ID"], 1, "template: :1: unclosed action"),
    (["ps", "--format", "{{if .ID}}"], 1, "template: :1: unexpected EOF"),
    (["history", "--format", "{{nope .ID}}", "busybox"], 1, 'template: :1: function "nope" not defined'),
    (["system", "df", "--format", "{{end}}"], 1, "template: :1: unexpected {{end}}"),
    # docker/cli inspect: a template that does not parse is a StatusError with status 64
    (["inspect", "-f", "{{.Id", "busybox"], 64, "template: :1: unclosed action"),
])
def test_a_malformed_template_is_gos_parse_error(stocked, labkit_home, store, argv, status, message):
    assert unchanged(labkit_home, store, argv) == (status, "", f"template parsing error: {message}\n")


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("flags, message", [
    (["--format", "{{.ID}}"], "--format is not yet supported with --tree"),
    (["--format", "json"], "--format is not yet supported with --tree"),
    (["-q"], "--quiet is not yet supported with --tree"),
    (["--no-trunc"], "--no-trunc is not yet supported with --tree"),
    (["--digests"], "--show-digest is not yet supported with --tree"),
])
def test_tree_with_a_legacy_flag_is_dockers_error(stocked, labkit_home, store, flags, message):
    assert unchanged(labkit_home, store, ["images", "--tree", *flags]) == (1, "", message + "\n")


@pytest.mark.parametrize("store", STORES)
def test_the_other_stores_id_names_nothing(stocked, labkit_home, store):
    other = ids(stocked)["graphdriver" if store == "containerd" else "containerd"]
    for text in (other, other[7:], other[7:19]):
        assert unchanged(labkit_home, store, ["rmi", text]) == (1, "", f"Error: No such image: {text}\n")
        assert unchanged(labkit_home, store, ["tag", text, "x:1"]) == (1, "", f"Error: No such image: {text}\n")
        assert unchanged(labkit_home, store, ["history", text]) == (1, "", f"Error: No such image: {text}\n")
        assert unchanged(labkit_home, store, ["image", "inspect", text]) == (1, "[]\n",
                                                                              f"Error: No such image: {text}\n")


@pytest.mark.parametrize("store", STORES)
def test_an_image_a_container_uses_is_a_conflict_named_by_this_stores_id(stocked, labkit_home, store):
    short = ids(stocked)[store][7:19]
    container = run("ps", "-aq")[1].strip()
    assert unchanged(labkit_home, store, ["rmi", "busybox"]) == (
        1, "", f'Error: conflict: unable to remove repository reference "busybox:latest" (must force) - container '
               f"{container} is using its referenced image {short}\n")
    assert unchanged(labkit_home, store, ["rmi", short]) == (
        1, "", f"Error: conflict: unable to delete {short} (must be forced) - image is being used by stopped "
               f"container {container}\n")


@pytest.mark.parametrize("store", STORES)
def test_prunes_answered_no_change_nothing(stocked, labkit_home, store):
    # docker/cli internal/prompt Confirm: anything but "y"/"Y" (or no answer) cancels, exit 0
    for answer in ("n\n", "\n", "", "yes please\n"):
        status, out, err = unchanged(labkit_home, store, ["image", "prune", "-a"], stdin=answer)
        assert (status, err) == (0, "") and out.endswith("Are you sure you want to continue? [y/N] ")
        status, out, err = unchanged(labkit_home, store, ["container", "prune"], stdin=answer)
        assert (status, out, err) == (0, "WARNING! This will remove all stopped containers.\n"
                                         "Are you sure you want to continue? [y/N] ", "")


@pytest.mark.parametrize("store", STORES)
def test_a_bad_reference_changes_nothing(stocked, labkit_home, store):
    status, out, err = unchanged(labkit_home, store, ["tag", "busybox", "Bad:Tag"])
    assert (status, out, err) == (1, "", 'error parsing reference: "Bad:Tag" is not a valid repository/tag: '
                                         "invalid reference format: repository name (library/Bad) must be lowercase\n")
    status, out, err = unchanged(labkit_home, store, ["tag", "nope:1", "fine:1"])
    assert (status, out, err) == (1, "", "Error: No such image: nope:1\n")


@pytest.mark.parametrize("argv", [
    ["tag", "busybox", "x:1"], ["rmi", "-f", "busybox"], ["image", "prune", "-a", "-f"], ["container", "prune", "-f"],
    ["rm", "-f", "keeper"], ["images"], ["image", "ls", "--tree"], ["system", "df"],
])
def test_a_corrupt_daemon_json_stops_every_command_naming_file_and_line(stocked, labkit_home, argv):
    path = labkit_home / "daemon.json"
    path.write_text('{\n  "registry-mirrors": [],\n  "features": {"containerd-snapshotter": yes}\n}\n')
    for store in ((), ("--image-store", "graphdriver")):
        before = home_state(labkit_home)
        status, out, err = run(*store, *argv)
        assert home_state(labkit_home) == before
        assert (status, out) == (1, "")
        assert err == (f"Error: unable to configure labkit with file {path}: line 3, column 42: invalid JSON: "
                       "Expecting value\n")


@pytest.mark.skipif(str(Platform.host()) != "linux/amd64", reason="the lab pulls linux/amd64 here")
def test_an_unknown_feature_warns_and_the_command_goes_on(stocked, labkit_home):
    path = labkit_home / "daemon.json"
    mirrors = json.dumps(json.loads(path.read_text())["registry-mirrors"])
    path.write_text(f'{{\n "registry-mirrors": {mirrors},\n "features": {{"containerd-snapshoter": false}}\n}}\n')
    status, out, err = run("images", "--format", "{{.Repository}}")
    # the misspelt feature changes nothing: Docker 29's default, the containerd store, lists busybox by index
    assert (status, out) == (0, "busybox\nubuntu\n")
    assert err == (f'WARNING: {path}:3: unknown feature "containerd-snapshoter" ignored (labkit knows: '
                   "containerd-snapshotter)\n")
    assert run("images", "-q")[1].split()[0] == ids(stocked)["containerd"][7:19]
