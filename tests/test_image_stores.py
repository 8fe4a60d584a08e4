"""The two image stores over one store on disk: Docker Engine 29's containerd image store (the default) and
the graphdriver store of the lab text's Docker: IDs, views, sizes, templates, management commands, prune.

Expected outputs are written from Docker's source (docker/cli v29: cli/command/image/list.go, tree.go, the
formatter package and its golden files; moby/moby: daemon/containerd and daemon/images) and say which Docker
they come from: "Docker 29" (containerd store, the CLI of Engine 29) or "lab text" (graphdriver store as
labkit has always shown it: 20-wide columns, "1.11 MB").
"""

from __future__ import annotations

import io
import json
import re

import pytest

from labkit.cli import main
from labkit.oci import Platform
from labkit.tables import TreeDetails, TreeImage, print_tree

from helpers.peers import run as run_peer

BUSYBOX_INDEX = "5da0d7d5d2c1"    # the lab's busybox:latest: an index of linux/amd64 and linux/arm64/v8
BUSYBOX_AMD64 = "d734293ba99b"
BUSYBOX_ARM64 = "7674f396fee0"
NOW = "2017-01-15T00:00:00Z"


def run(*argv, stdin: str = ""):
    """Return (status, stdout, stderr) of one in-process labkit command."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err, inp=io.StringIO(stdin))
    return status, out.getvalue(), err.getvalue()


def gd(*argv, stdin: str = ""):
    """Run a command as the lab text's Docker (the graphdriver store)."""
    return run("--image-store", "graphdriver", *argv, stdin=stdin)


@pytest.fixture
def pulled(lab, monkeypatch):
    """The lab's busybox (an index), ubuntu and debian:jessie pulled; LABKIT_NOW pinned."""
    monkeypatch.setenv("LABKIT_NOW", NOW)
    results = {ref: lab.pull(ref) for ref in ("busybox", "ubuntu", "debian:jessie")}
    return lab, results


host_is_amd64 = pytest.mark.skipif(str(Platform.host()) != "linux/amd64", reason="the lab pulls linux/amd64 here")


# --- Docker 29's tree printer against docker/cli's golden files ------------------------------------------
# cli/command/image/tree_test.go TestPrintImageTreeGolden feeds these views; the expected text is the golden
# file's, byte for byte (no terminal: no legend, no colors).

def _d(hexchar: str, disk: str, used: bool, content: str) -> TreeDetails:
    return TreeDetails("sha256:" + hexchar * 64, disk, used, content)


GOLDENS = {  # golden file -> (the view tree_test.go builds, whether images are spaced, the file's text)
    "width-calculation-untagged": (
        [TreeImage(["a:1"], _d("1", "5.5 MB", False, "2.5 MB")), TreeImage([], _d("2", "3.2 MB", False, "1.6 MB")),
         TreeImage(["short:v1"], _d("3", "7.1 MB", True, "3.5 MB"))], False,
        "IMAGE        ID             DISK USAGE   CONTENT SIZE   EXTRA\n"
        "a:1          111111111111       5.5 MB         2.5 MB        \n"
        "<untagged>   222222222222       3.2 MB         1.6 MB        \n"
        "short:v1     333333333333       7.1 MB         3.5 MB   U    \n"),
    "expanded-view-with-platforms": (
        [TreeImage(["multiplatform:latest"], _d("a", "25.5 MB", True, "20.2 MB"), [
            ("linux/amd64", True, _d("b", "12.1 MB", False, "10.0 MB")),
            ("linux/arm64", True, _d("c", "13.4 MB", True, "10.2 MB"))])], True,
        "IMAGE                  ID             DISK USAGE   CONTENT SIZE   EXTRA\n"
        "multiplatform:latest   aaaaaaaaaaaa      25.5 MB        20.2 MB   U    \n"
        "├─ linux/amd64         bbbbbbbbbbbb      12.1 MB        10.0 MB        \n"
        "└─ linux/arm64         cccccccccccc      13.4 MB        10.2 MB   U    \n"
        "\n"),
    "untagged-with-platforms": (
        [TreeImage([], _d("d", "18.5 MB", False, "15.2 MB"), [
            ("linux/amd64", True, _d("e", "9.2 MB", False, "7.6 MB")),
            ("linux/arm64", True, _d("f", "9.3 MB", False, "7.6 MB"))])], True,
        "IMAGE                ID             DISK USAGE   CONTENT SIZE   EXTRA\n"
        "<untagged>           dddddddddddd      18.5 MB        15.2 MB        \n"
        "├─ linux/amd64       eeeeeeeeeeee       9.2 MB         7.6 MB        \n"
        "└─ linux/arm64       ffffffffffff       9.3 MB         7.6 MB        \n"
        "\n"),
}


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_tree_goldens(name):
    images, spacing, golden = GOLDENS[name]
    assert print_tree(images, spacing) == golden


def test_tree_golden_mixed_tagged_untagged_with_children():
    images = [TreeImage(["app:latest", "app:v1"], _d("1" + "0", "30.5 MB", True, "25.2 MB"), []),
              TreeImage([], _d("3", "12.3 MB", False, "10.1 MB"), []),
              TreeImage(["base:alpine"], _d("5", "5.5 MB", False, "5.5 MB"), [])]
    images[0].details.id = "sha256:" + "10" * 32
    images[0].children = [("linux/amd64", True, TreeDetails("sha256:" + "20" * 32, "15.2 MB", True, "12.6 MB"))]
    images[1].details.id = "sha256:" + "30" * 32
    images[1].children = [("linux/arm/v7", True, TreeDetails("sha256:" + "40" * 32, "6.1 MB", False, "5.0 MB"))]
    images[2].details.id = "sha256:" + "50" * 32
    images[0].names = ["app:v1", "app:latest"]  # the golden's order: names as the image lists them
    assert print_tree(images, True) == (
        "IMAGE                 ID             DISK USAGE   CONTENT SIZE   EXTRA\n"
        "app:v1             \n"
        "app:latest            101010101010      30.5 MB        25.2 MB   U    \n"
        "└─ linux/amd64        202020202020      15.2 MB        12.6 MB   U    \n"
        "\n"
        "<untagged>            303030303030      12.3 MB        10.1 MB        \n"
        "└─ linux/arm/v7       404040404040       6.1 MB         5.0 MB        \n"
        "\n"
        "base:alpine           505050505050       5.5 MB         5.5 MB        \n"
        "\n")


def test_tree_legend_only_on_a_terminal_and_narrow_terminals_drop_columns():
    images = [TreeImage(["a:1"], _d("1", "5.5MB", True, "2.5MB"))]
    wide = print_tree(images, False, width=80).splitlines()
    assert wide[0] == " " * (80 - len(" Info ->  U In Use")) + " Info ->  U In Use"
    # 40 columns: ID and DISK USAGE leave 12 for names, CONTENT SIZE would leave too few: it goes, with EXTRA
    narrow = print_tree(images, False, width=40).splitlines()
    assert narrow[1] == "IMAGE   ID             DISK USAGE"


# --- IDs: what each store calls an image ---------------------------------------------------------------

@host_is_amd64
def test_image_id_is_the_pulled_digest_with_containerd_and_the_config_digest_with_graphdriver(pulled):
    lab, results = pulled
    busybox = results["busybox"]
    status, out, _ = run("inspect", "-f", "{{.Id}} {{json .RepoDigests}} {{.Descriptor.digest}}", "busybox")
    # Docker 29 (moby daemon/containerd/image_inspect.go): Id and Descriptor are the index the tag names
    assert out == f'{busybox.digest} ["busybox@{busybox.digest}"] {busybox.digest}\n'
    assert str(busybox.digest).startswith(f"sha256:{BUSYBOX_INDEX}")
    status, out, _ = gd("inspect", "-f", "{{.Id}}", "busybox")  # lab text: the config digest
    assert out == f"{busybox.record.image_id}\n"
    # a single-platform image: the manifest's digest
    debian = results["debian:jessie"]
    assert run("inspect", "-f", "{{.Id}}", "debian:jessie")[1] == f"{debian.manifest_digest}\n"


@host_is_amd64
def test_each_store_resolves_its_own_ids(pulled):
    lab, results = pulled
    config_id = results["busybox"].record.image_id.short
    assert run("run", "--rm", BUSYBOX_INDEX, "echo", "by id") == (0, "by id\n", "")
    assert run("tag", BUSYBOX_INDEX, "mybox:1")[0] == 0
    status, _, err = run("rmi", config_id)  # Docker 29 knows no config digest as an image ID
    assert status == 1 and err == f"Error: No such image: {config_id}\n"
    assert gd("tag", config_id, "mybox:2")[0] == 0
    status, _, err = gd("rmi", BUSYBOX_INDEX)
    assert status == 1 and f"No such image: {BUSYBOX_INDEX}" in err
    # Docker 29's rmi: the names, then the image the names pointed at (no digest names of its own)
    status, out, _ = run("rmi", "-f", BUSYBOX_INDEX)
    assert status == 0
    assert out.splitlines() == ["Untagged: busybox:latest", "Untagged: mybox:1", "Untagged: mybox:2",
                                f"Deleted: {results['busybox'].digest}"]


# --- views ------------------------------------------------------------------------------------------------

@host_is_amd64
def test_bare_images_is_docker_29s_collapsed_view(pulled):
    status, out, err = run("images")
    assert (status, err) == (0, "")
    assert out == (
        "IMAGE            ID             DISK USAGE   CONTENT SIZE   EXTRA\n"
        f"busybox:latest   {BUSYBOX_INDEX}       1.11MB         32.3kB        \n"
        "debian:jessie    4ebdb9ed7359        7.6MB          194kB        \n"
        "ubuntu:latest    2ef7a561598f       7.74MB          202kB        \n")
    assert run("image", "ls")[1] == out and run("image", "list")[1] == out
    run("create", "--name", "c", "busybox")
    assert run("images")[1].splitlines()[1].endswith("32.3kB   U    ")  # "U": a container uses it


@host_is_amd64
def test_tree_lists_every_platform_of_an_index_and_pull_platform_adds_one(pulled):
    lab, _ = pulled
    assert run("images", "--tree")[1].splitlines()[:4] == [
        "IMAGE                   ID             DISK USAGE   CONTENT SIZE   EXTRA",
        f"busybox:latest          {BUSYBOX_INDEX}       1.11MB         32.3kB        ",
        f"├─ linux/amd64          {BUSYBOX_AMD64}       1.11MB         32.3kB        ",
        f"└─ linux/arm64/v8       {BUSYBOX_ARM64}           0B             0B        "]  # listed, blobs not here
    assert run("pull", "--platform", "linux/arm64", "busybox")[0] == 0
    tree = run("images", "--tree")[1].splitlines()
    assert tree[1].split()[:2] == ["busybox:latest", BUSYBOX_INDEX]  # the same image, one more platform
    assert tree[2].split()[:2] == ["├─", "linux/amd64"] and tree[3].split()[:3] == ["└─", "linux/arm64/v8",
                                                                                     BUSYBOX_ARM64]
    assert tree[3].split()[3] != "0B"
    assert len(run("images", "-q")[1].split()) == 3  # still three images
    # the lab text's Docker: the tag moved to the arm64 image, the amd64 one is left as <none>
    rows = gd("images")[1].splitlines()
    assert [r.split()[:2] for r in rows[1:]] == [["busybox", "latest"], ["<none>", "<none>"], ["debian", "jessie"],
                                                 ["ubuntu", "latest"]]


@host_is_amd64
def test_legacy_table_when_a_flag_asks_for_it(pulled):
    # Docker 29 (list.go shouldUseTree): -q, --no-trunc, --digests and --format use the legacy formatter,
    # with Docker 29's tabwriter (10, 1, 3) and sizes
    _, results = pulled
    out = run("images", "--digests")[1].splitlines()
    assert out[0] == "REPOSITORY   TAG       " + "DIGEST".ljust(74) + "IMAGE ID       CREATED        SIZE"
    assert out[1] == (f"busybox      latest    {results['busybox'].digest}   {BUSYBOX_INDEX}   "
                      "2 months ago   1.11MB")
    assert run("images", "-q")[1] == f"{BUSYBOX_INDEX}\n4ebdb9ed7359\n2ef7a561598f\n"
    assert gd("images", "-q")[1].split()[0] == results["busybox"].record.image_id.short
    lab_text = gd("images")[1].splitlines()
    assert lab_text[0] == "REPOSITORY          TAG                 IMAGE ID            CREATED             SIZE"
    assert lab_text[1].endswith("2 months ago        1.07 MB")  # graphdriver: the layers' files only


def test_tree_and_flags_do_not_mix(pulled):
    for flag, name in (("-q", "--quiet"), ("--no-trunc", "--no-trunc"), ("--digests", "--show-digest")):
        assert run("images", "--tree", flag) == (1, "", f"{name} is not yet supported with --tree\n")
    assert run("images", "--tree", "--format", "{{.ID}}") == (1, "", "--format is not yet supported with --tree\n")


def _dangling(name: str = "snap:1") -> None:
    """Commit a container twice under one name: the first image loses its name (dangling)."""
    run("run", "-d", "--name", "c", "busybox", "sleep", "infinity")   # busybox's sh alone would exit at once
    run("commit", "c", name)
    run("exec", "c", "sh", "-c", "echo changed > /f")
    run("commit", "c", name)


def test_dangling_images_hide_in_docker_29_without_all(pulled):
    _dangling()
    assert "<none>" not in run("images", "--format", "{{.Repository}}")[1]
    assert run("images", "-a", "--format", "{{.Repository}}:{{.Tag}}")[1].count("<none>:<none>") == 1
    assert "<untagged>" in run("images", "-a")[1] and "<untagged>" not in run("images")[1]
    assert "<none>" in gd("images")[1]  # the lab text's Docker lists it


def test_ambiguous_name_hint(pulled):
    status, out, err = run("images", "ls", "--format", "{{.ID}}")
    assert (status, out) == (0, "")
    assert err == 'No images found matching "ls": did you mean "docker image ls"?\n'
    assert run("image", "ls", "ls")[2] == ""  # called as image ls: no hint


# --- templates ---------------------------------------------------------------------------------------------

@host_is_amd64
def test_go_templates_for_images(pulled):
    assert run("images", "--format", "{{.Repository}}:{{.Tag}}")[1] == "busybox:latest\ndebian:jessie\nubuntu:latest\n"
    assert run("images", "--format", "table {{.Repository}}\\t{{.Size}}")[1] == (
        "REPOSITORY   SIZE\nbusybox      1.11MB\ndebian       7.6MB\nubuntu       7.74MB\n")
    row = json.loads(run("images", "--format", "json")[1].splitlines()[0])
    assert sorted(row) == ["Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize",
                           "Size", "Tag", "UniqueSize"]  # Docker 29 (no VirtualSize)
    assert "VirtualSize" in json.loads(gd("images", "--format", "{{json .}}")[1].splitlines()[0])
    assert run("images", "--format", "{{json .Repository}}", "ubuntu")[1] == '"ubuntu"\n'


@pytest.mark.parametrize("argv, message", [
    (["images", "--format", "{{.Foo}}"],
     'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type '
     "*formatter.imageContext"),
    (["images", "--format", "table {{.Repository}"], 'template parsing error: template: :1: unexpected "}" in operand'),
    (["ps", "-a", "--format", "{{.Nope}}"],
     'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type '
     "*formatter.ContainerContext"),
    (["history", "--format", "{{.Tags}}", "busybox"],
     'template parsing error: template: :1:2: executing "" at <.Tags>: can\'t evaluate field Tags in type '
     "*image.historyContext"),
    (["system", "df", "--format", "{{.Images}}"],
     'template parsing error: template: :1:2: executing "" at <.Images>: can\'t evaluate field Images in type '
     "*formatter.diskUsageImagesContext"),
])
def test_bad_templates_are_dockers_errors_and_change_nothing(pulled, argv, message):
    run("create", "--name", "c", "busybox")
    before = (run("images", "-a", "--digests")[1], run("ps", "-a")[1])
    assert run(*argv) == (1, "", message + "\n")
    assert (run("images", "-a", "--digests")[1], run("ps", "-a")[1]) == before


def test_inspect_templates(pulled):
    stand_in = run("inspect", "-f", '{{index .Config.Labels "io.labkit.stand-in"}}', "busybox")[1]
    assert stand_in.startswith("labkit lab stand-in for busybox:latest")
    assert run("inspect", "-f", "{{.Config.Labels.nope}}", "busybox")[1] == "<no value>\n"  # a Go map
    assert run("inspect", "-f", "{{.Os}}/{{.Architecture}}", "busybox", "ubuntu")[1] == "linux/amd64\nlinux/amd64\n"
    # docker/cli inspector.go: an unknown field fails on the typed value, then on the raw JSON (missingkey=error)
    assert run("inspect", "-f", "{{.Nope}}", "busybox") == (
        1, "\n", 'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"\n')
    assert run("inspect", "-f", "{{.Nope", "busybox") == (64, "", "template parsing error: template: :1: unclosed action\n")
    assert json.loads(run("inspect", "--format", "json", "busybox")[1])[0]["Os"] == "linux"


def test_ps_templates_see_dockers_fields(pulled):
    run("run", "-d", "--name", "web", "busybox", "sleep", "infinity")
    run("exec", "web", "sh", "-c", "echo 12345 > /f")
    out = run("ps", "--format", "{{.Names}} {{.State}} {{.Size}} {{.Platform}} {{.LocalVolumes}}")[1]
    assert re.fullmatch(r"web running 6B \(virtual \S+MB\) linux/\w+ 0\n", out)
    row = json.loads(run("ps", "--format", "json")[1])
    assert {"ID", "Image", "Command", "CreatedAt", "RunningFor", "Status", "State", "Names", "Size", "Platform",
            "Labels", "Mounts", "Networks", "Ports", "LocalVolumes", "HealthStatus"} == set(row)
    assert gd("ps", "--format", "{{.Platform}}")[1] == "<nil>\n"  # graphdriver reports no platform
    assert run("container", "ls", "-q") == run("ps", "-q") and len(run("ps", "-q")[1].strip()) == 12


def test_history_in_both_stores(pulled):
    _, results = pulled
    # Docker 29: the image's own digest on top, <missing> below; sizes of unpacked layers (their files)
    out = run("history", "busybox")[1].splitlines()
    assert out[0] == "IMAGE          CREATED        CREATED BY                                      SIZE      COMMENT"
    assert out[1].startswith(f"{BUSYBOX_INDEX}   2 months ago   /bin/sh -c #(nop)  CMD [\"sh\"]")
    assert out[2].startswith("<missing>      2 months ago") and "1.07MB" in out[2]
    lab_text = gd("history", "busybox")[1].splitlines()
    assert lab_text[1].startswith(results["busybox"].record.image_id.short + "        2 months ago")
    assert "1.07 MB" in lab_text[2]
    assert run("history", "--format", "{{.ID}}|{{.Size}}", "-H", "false", "busybox")[1].splitlines()[1].startswith(
        "<missing>|")
    assert run("image", "history", "-q", "busybox")[1].split()[0] == BUSYBOX_INDEX



def test_history_of_committed_images_names_parents_in_both_stores(pulled, tmp_path):
    _, results = pulled
    assert run("run", "--name", "c1", "busybox", "sh", "-c", "echo hi > /f")[0] == 0
    mine = run("commit", "c1", "mine:1")[1].strip()
    run("run", "--name", "c2", "mine:1", "sh", "-c", "echo again > /g")
    run("commit", "c2", "mine:2")
    run("tag", "mine:2", "copy:2")
    mine_2 = run("images", "-q", "--no-trunc", "mine:2")[1].strip()
    # Docker 29 (moby docker-v29.7.2 daemon/containerd): createImageOCI (image_builder.go, called by
    # image_commit.go) labels the new image org.mobyproject.image.parent=<the container's image ID>, TagImage
    # (image_tag.go) copies the labels to a new name, and ImageHistory (image_history.go) puts the image's
    # digest on the top row, then walks one row down per parent found by that label: busybox (pulled, no
    # label) ends the walk, its older rows stay <missing>
    for name in ("mine:2", "copy:2"):
        out = run("history", "--format", "{{.ID}}|{{.CreatedBy}}", "--no-trunc", name)[1].splitlines()
        assert out == [f"{mine_2}|sh -c echo again > /g", f"{mine}|sh -c echo hi > /f",
                       f"sha256:{run('images', '-q', '--no-trunc', 'busybox')[1].strip()[7:]}|"
                       '/bin/sh -c #(nop)  CMD ["sh"]',
                       out[3]]
        assert out[3].startswith("<missing>|/bin/sh -c #(nop) ADD file:")
    assert run("history", "-q", "mine:1")[1].split() == [mine[7:19], BUSYBOX_INDEX, "<missing>"]
    table = run("history", "mine:1")[1].splitlines()
    assert table[1].startswith(f"{mine[7:19]}   ") and "sh -c echo hi > /f" in table[1]
    assert table[2:] == [
        f'{BUSYBOX_INDEX}   2 months ago             /bin/sh -c #(nop)  CMD ["sh"]                   0B        ',
        "<missing>      2 months ago             /bin/sh -c #(nop) ADD file:39a4e00f79e14f482…   1.07MB    "]
    assert run("image", "inspect", "--format", "{{.Parent}}", "mine:2")[1] == mine + "\n"
    # lab text (Docker 28, daemon/images/image_inspect.go): Parent is the parent's config ID
    assert gd("image", "inspect", "--format", "{{.Parent}}", "mine:2")[1] == \
        "sha256:" + gd("images", "-q", "--no-trunc", "mine:1")[1].strip().split(":")[-1] + "\n"
    assert gd("image", "inspect", "--format", "{{.Parent}}", "busybox")[1] == "\n"   # pulled: no parent
    # a commit without a name is a dangling image with the same label
    dangling = run("commit", "c2")[1].strip()
    assert run("history", "-q", dangling)[1].split()[:3] == [dangling[7:19], mine[7:19], BUSYBOX_INDEX]
    # BuildKit (docker build's builder in Docker 29) sets no parent label: only the top row is named
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo built > /h\n")
    assert run("build", "-q", "-t", "built:1", str(tmp_path))[0] == 0
    assert run("history", "-q", "built:1")[1].split() == [run("images", "-q", "built:1")[1].strip()] + \
        ["<missing>"] * 2
    # lab text (graphdriver): the same walk over the image's Parent (moby v28 daemon/images/image_history.go),
    # by config ID; BuildKit's exporter sets no Parent there either (builder-next/exporter/mobyexporter)
    lab_text = gd("history", "-q", "mine:1")[1].split()
    assert lab_text == [gd("images", "-q", "mine:1")[1].strip(), results["busybox"].record.image_id.short,
                        "<missing>"]
    assert gd("history", "-q", "built:1")[1].split() == [gd("images", "-q", "built:1")[1].strip()] + \
        ["<missing>"] * 2

# --- system df ----------------------------------------------------------------------------------------------

@host_is_amd64
def test_system_df_in_both_stores(pulled):
    run("create", "--name", "c", "busybox")
    out = run("system", "df")[1].splitlines()
    # Docker 29 (formatter/disk_usage.go): four types, go-units HumanSize (4 digits, no space)
    assert [line.split()[0] for line in out] == ["TYPE", "Images", "Containers", "Local", "Build"]
    assert out[1].split()[:3] == ["Images", "3", "1"] and out[1].split()[3].endswith("MB")
    assert out[3] == "Local Volumes   0         0         0B        0B"
    lab_text = gd("system", "df")[1].splitlines()
    assert [line.split()[0] for line in lab_text] == ["TYPE", "Images", "Containers", "Local"]  # Docker 1.13
    verbose = run("system", "df", "-v")[1]
    assert "Images space usage:" in verbose and "\nBuild cache usage: 0B\n" in verbose
    assert run("system", "df", "--format", "{{.Type}}={{.TotalCount}}")[1] == (
        "Images=3\nContainers=1\nLocal Volumes=0\nBuild Cache=0\n")
    data = json.loads(run("system", "df", "-v", "--format", "json")[1])
    assert sorted(data) == ["BuildCache", "Containers", "Images", "Volumes"]
    assert [i["Repository"] for i in data["Images"]] == ["busybox", "debian", "ubuntu"]


# --- prune -------------------------------------------------------------------------------------------------

def test_image_prune_asks_first_and_a_no_changes_nothing(pulled):
    _dangling()
    before = run("images", "-a", "-q")[1]
    # docker/cli image/prune.go and internal/prompt: the warning, " [y/N] ", then nothing on a "no"
    assert run("image", "prune", stdin="n\n") == (
        0, "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ", "")
    assert run("image", "prune", stdin="") [0] == 0 and run("images", "-a", "-q")[1] == before
    status, out, _ = run("image", "prune", stdin="y\n")
    lines = out.splitlines()
    assert lines[0] == "WARNING! This will remove all dangling images."
    assert lines[1] == "Are you sure you want to continue? [y/N] Deleted Images:"
    assert lines[2].startswith("untagged: sha256:") and lines[3].startswith("deleted: sha256:")
    assert lines[-2] == "" and re.fullmatch(r"Total reclaimed space: \d+(\.\d+)?k?B", lines[-1])
    assert len(run("images", "-a", "-q")[1].split()) == len(before.split()) - 1
    assert run("image", "prune", "-f")[1] == "Total reclaimed space: 0B\n"


def test_image_prune_all_keeps_what_containers_use(pulled):
    run("create", "--name", "c", "busybox")
    status, out, _ = gd("image", "prune", "-a", "-f")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "Deleted Images:"
    # the lab text's Docker: names, the image ID, then its layers (chain IDs) no other image has
    assert "untagged: ubuntu:latest" in lines and "untagged: debian:jessie" in lines
    assert sum(1 for line in lines if line.startswith("deleted: sha256:")) >= 4
    assert re.fullmatch(r"Total reclaimed space: [\d.]+ MB", lines[-1])
    assert run("images", "--format", "{{.Repository}}")[1] == "busybox\n"


def test_container_prune(pulled):
    run("create", "--name", "stopped", "busybox")
    run("run", "-d", "--name", "up", "busybox", "sleep", "infinity")
    status, out, _ = run("container", "prune", stdin="y\n")
    stopped_id = out.splitlines()[2]
    assert out == ("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
                   f"Deleted Containers:\n{stopped_id}\n\nTotal reclaimed space: 0B\n")
    assert run("ps", "-a", "--format", "{{.Names}}")[1] == "up\n"


# --- management commands -------------------------------------------------------------------------------------

def test_management_commands_are_the_verbs(pulled):
    assert run("image", "tag", "busybox", "b:1")[0] == 0
    assert run("image", "rm", "b:1")[1] == "Untagged: b:1\n"
    assert run("container", "create", "--name", "c1", "busybox", "sleep", "infinity")[0] == 0
    assert run("container", "start", "c1")[1] == "c1\n"
    assert run("container", "exec", "c1", "echo", "hi")[1] == "hi\n"
    assert run("container", "stop", "c1")[1] == "c1\n"
    assert run("container", "inspect", "-f", "{{.Name}}", "c1")[1] == "/c1\n"
    status, _, err = run("image", "inspect", "c1")  # image inspect looks at images only
    assert status == 1 and err == "Error: No such image: c1\n"
    assert run("container", "rm", "c1")[1] == "c1\n"
    assert run("image", "inspect", "-f", "{{.Os}}", "busybox")[1] == "linux\n"


# --- interop: the ID is what skopeo reports --------------------------------------------------------------------

@pytest.mark.interop("skopeo")
def test_containerd_id_is_the_digest_skopeo_inspect_reports(pulled, lab_images_registry):
    host = lab_images_registry.url.split("://")[1]
    for ref in ("busybox:latest", "debian:jessie", "ubuntu:latest"):
        out = run_peer("skopeo", "inspect", "--tls-verify=false", f"docker://{host}/library/{ref}")
        assert run("inspect", "-f", "{{.Id}}", ref)[1] == json.loads(out)["Digest"] + "\n"
        short = json.loads(out)["Digest"].split(":")[1][:12]
        assert short in run("images", ref.split(":")[0])[1]


# --- the Python API and the magic: both Dockers side by side over one home -----------------------------------

@host_is_amd64
def test_two_labs_on_one_home_show_the_same_images_both_ways(pulled):
    from labkit.lab import Lab

    lab, results = pulled
    today = Lab(lab.home, image_store="containerd").image_summaries()
    lab_text = Lab(lab.home, image_store="graphdriver").image_summaries()
    assert [s.repo_tags for s in today] == [s.repo_tags for s in lab_text]
    busybox = next(s for s in today if s.repo_tags == ["busybox:latest"])
    assert busybox.id == results["busybox"].digest
    assert [(m.platform, m.available) for m in busybox.manifests] == [("linux/amd64", True), ("linux/arm64/v8", False)]
    assert next(s for s in lab_text if s.repo_tags == ["busybox:latest"]).id == results["busybox"].record.image_id


def test_the_magic_takes_the_image_store_option(pulled, capsys):
    from labkit.magic import run_line

    assert run_line("docker --image-store graphdriver images busybox") == 0
    assert capsys.readouterr().out.startswith("REPOSITORY          TAG")
    assert run_line("docker --image-store containerd images busybox") == 0
    assert capsys.readouterr().out.startswith("IMAGE            ID")
