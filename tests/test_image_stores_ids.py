"""What each image store calls an image, in every verb that takes or prints an image ID.

- Docker 29, containerd image store (moby daemon/containerd: image_list.go, image_inspect.go,
  image_delete.go; docker/cli formatter/image.go): the ID is the digest of what the name points at, the index
  when pulled through one; every platform pulled through that index is the same image, so `rmi ID` removes
  them all; a container's Image is that ID.
- Docker 28 and before, graphdriver store (moby daemon/images), the lab text's: the ID is the config digest;
  each platform is an image of its own.
Both accept the full ID ("sha256:" + 64 hex), its 64 hex, or a unique prefix (moby's reference parsing:
an ID never reads as a name).
"""

from __future__ import annotations

import json

import pytest

from labkit.oci import Platform

from helpers.cli import home_state, run

pytestmark = pytest.mark.skipif(str(Platform.host()) != "linux/amd64", reason="the lab pulls linux/amd64 here")

GD = ("--image-store", "graphdriver")


@pytest.fixture
def busybox(lab, monkeypatch):
    """The lab's busybox pulled (an index of linux/amd64 and linux/arm64/v8); returns (index digest, config
    digest of the amd64 image)."""
    monkeypatch.setenv("LABKIT_NOW", "2017-01-15T00:00:00Z")
    result = lab.pull("busybox")
    assert result.index_digest is not None
    return str(result.index_digest), str(result.record.image_id)


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_every_form_of_the_id_names_the_image(busybox, store):
    full = busybox[0] if store == "containerd" else busybox[1]
    for text in (full, full[7:], full[7:19], full[7:11]):
        assert run("--image-store", store, "inspect", "-f", "{{.Id}}", text) == (0, f"{full}\n", "")
        assert run("--image-store", store, "history", "-q", "--no-trunc", text)[1].splitlines()[0] == full
    assert run("--image-store", store, "tag", full[7:19], "mine:1") == (0, "", "")
    assert run("--image-store", store, "images", "-q", "--no-trunc", "mine")[1] == f"{full}\n"


def test_images_digests_in_both_stores(busybox):
    index, config = busybox
    # Docker 29 (formatter NewImageFormat with digest, tabwriter 10 wide): DIGEST is the repo digest, the index
    assert run("images", "--digests") == (0, (
        "REPOSITORY   TAG       DIGEST" + " " * 68 + "IMAGE ID       CREATED        SIZE\n"
        f"busybox      latest    {index}   {index[7:19]}   2 months ago   1.11MB\n"), "")
    # the lab text's Docker: the same digest, the config's ID, 20-wide columns and "1.07 MB" (files only)
    assert run(*GD, "images", "--digests") == (0, (
        "REPOSITORY          TAG                 DIGEST" + " " * 68 + "IMAGE ID            CREATED"
        "             SIZE\n"
        f"busybox             latest              {index}   {config[7:19]}        2 months ago        1.07 MB\n"), "")
    assert run("images", "--no-trunc", "--format", "{{.ID}}") == (0, f"{index}\n", "")
    assert run(*GD, "images", "--no-trunc", "--format", "{{.ID}}") == (0, f"{config}\n", "")


def test_a_containers_image_is_named_by_each_stores_id(busybox):
    index, config = busybox
    assert run("create", "--name", "c", "busybox")[0] == 0
    # moby: a container records the image ID it was created from; the containerd store's is the target
    assert run("inspect", "-f", "{{.Image}}", "c") == (0, f"{index}\n", "")
    assert run(*GD, "inspect", "-f", "{{.Image}}", "c") == (0, f"{config}\n", "")
    assert run("ps", "-a", "--format", "{{.Image}}") == (0, "busybox\n", "")  # what was asked for


def test_rmi_by_id_takes_every_platform_of_the_index_with_containerd(busybox, lab, labkit_home):
    index, amd64 = busybox
    arm64 = str(lab.pull("busybox", platform="linux/arm64").record.image_id)
    assert arm64 != amd64
    # the lab text's Docker: two images (the tag moved to arm64; amd64 is <none>), each its own ID
    assert run(*GD, "images", "-a", "-q", "--no-trunc") == (0, f"{arm64}\n{amd64}\n", "")
    # Docker 29: one image, both platforms
    assert run("images", "-a", "-q", "--no-trunc") == (0, f"{index}\n", "")
    assert run("tag", index[7:19], "two:1")[0] == 0
    assert run("rmi", "busybox") == (0, "Untagged: busybox:latest\n", "")  # another name is left: untag only
    before = home_state(labkit_home)
    assert run("rmi", amd64[7:19]) == (1, "", f"Error: No such image: {amd64[7:19]}\n")
    assert home_state(labkit_home) == before
    assert run("rmi", index[7:19]) == (0, f"Untagged: two:1\nDeleted: {index}\n", "")
    assert run("images", "-a", "-q") == (0, "", "")
    assert run(*GD, "images", "-a", "-q") == (0, "", "")
    blobs = labkit_home / "store" / "blobs" / "sha256"
    assert not any(p.name in (index[7:], amd64[7:], arm64[7:]) for p in blobs.iterdir())


def test_rmi_by_id_takes_one_platform_with_graphdriver(busybox, lab):
    index, amd64 = busybox
    arm64 = str(lab.pull("busybox", platform="linux/arm64").record.image_id)
    layers = json.loads(run(*GD, "inspect", "-f", "{{json .RootFS.Layers}}", amd64)[1])
    assert len(layers) == 1  # a one-layer image: its chain ID is its diff ID
    # moby daemon/images/image_delete.go: the image, then each layer no other image has (the <none> one: no
    # name to untag)
    assert run(*GD, "rmi", amd64[7:19]) == (0, f"Deleted: {amd64}\nDeleted: {layers[0]}\n", "")
    assert run(*GD, "images", "-a", "-q", "--no-trunc") == (0, f"{arm64}\n", "")
    # what is left is still the index's image for the containerd store, with one platform's blobs
    tree = run("images", "--tree")[1].splitlines()
    assert tree[1].split()[:2] == ["busybox:latest", index[7:19]]
    assert [row.split()[1] for row in tree[2:4]] == ["linux/amd64", "linux/arm64/v8"]
    assert tree[2].split()[3:5] == ["0B", "0B"] and tree[3].split()[3] != "0B"


def test_rmi_releases_layers_no_image_needs_in_both_stores(busybox, lab, labkit_home):
    """Docker frees an image's layers with it: graphdriver's layer store releases them (and says so), the
    containerd snapshotter's are collected; a layer another image has stays."""
    index, config = busybox
    layers_dir = labkit_home / "layers" / "sha256"
    diff_id = json.loads(run(*GD, "inspect", "-f", "{{json .RootFS.Layers}}", "busybox")[1])[0]
    assert (layers_dir / diff_id[7:]).is_dir()
    assert run("commit", run("create", "busybox")[1].strip(), "child:1")[0] == 0  # shares busybox's layer
    run("rm", run("ps", "-aq")[1].strip())
    assert run(*GD, "rmi", "busybox") == (0, f"Untagged: busybox:latest\nUntagged: busybox@{index}\n"
                                             f"Deleted: {config}\n", "")  # the layer is child's too: kept
    assert (layers_dir / diff_id[7:]).is_dir()
    status, out, _ = run("rmi", "child:1")
    assert status == 0 and out.splitlines()[0] == "Untagged: child:1" and len(out.splitlines()) == 2
    assert not (layers_dir / diff_id[7:]).exists()


def test_run_takes_this_stores_id_and_the_host_platform(busybox, lab):
    """Docker 29 runs the platform of the image that matches the host (moby daemon/containerd image_list.go
    best manifest) even when the name was last pulled for another; an ID of the other store is no image here:
    `run` takes it for a name, cannot find it, tries to pull it and fails (docker/cli run.go: exit 125)."""
    index, amd64 = busybox
    arm64 = str(lab.pull("busybox", platform="linux/arm64").record.image_id)
    assert run("run", "--rm", index[7:19], "echo", "by id") == (0, "by id\n", "")
    assert run("create", "--name", "c", "busybox")[0] == 0
    assert run("ps", "-a", "--format", "{{.Platform}}") == (0, "linux/amd64\n", "")
    assert run(*GD, "inspect", "-f", "{{.Image}}", "c") == (0, f"{amd64}\n", "")
    assert run(*GD, "run", "--rm", arm64[7:19], "echo", "by id") == (0, "by id\n", "")
    for argv, other in ((("run", "--rm"), amd64), ((*GD, "run", "--rm"), index)):
        status, out, err = run(*argv, other[7:19], "echo", "no")
        assert (status, out) == (125, "")
        assert err.splitlines()[0] == f"Unable to find image '{other[7:19]}:latest' locally"
