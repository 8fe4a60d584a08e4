"""The two image stores against real peers: images published to the distribution registry (Debian's
`docker-registry`) with skopeo, pulled with `labkit pull`, and the IDs skopeo reports for them.

Expectations and the Docker they come from:
- Docker 29, containerd image store (moby daemon/containerd/image_list.go, image_inspect.go; docker/cli
  cli/command/image/tree.go): the image ID is the digest of what the tag names (the index when it names an
  index, else the manifest): what `skopeo inspect` reports as Digest. An image is the whole index: every
  platform it lists is a row of `images --tree`, with 0B for a platform whose blobs are not here; `pull
  --platform` adds that platform's blobs to the same image. A platform's CONTENT SIZE is its manifest, config
  and layer blobs present (walkPresentChildren), its DISK USAGE that plus its unpacked layers; the image's
  row sums its platforms.
- Docker 28 and before, graphdriver store (the lab text's): the image ID is the config digest; pulling
  another platform moves the tag to it.
Sizes print as go-units HumanSizeWithPrecision(n, 3) (docker/go-units size.go, written out in helpers.gounits).
"""

from __future__ import annotations

import hashlib
import json

import pytest

from labkit.oci import Platform

from helpers import imagefactory as factory
from helpers import skopeo
from helpers.cli import home_state, run
from helpers.gounits import human_size

PLATFORMS = ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")

pytestmark = [pytest.mark.interop("docker-registry", "skopeo"),
              pytest.mark.skipif(str(Platform.host()) != "linux/amd64",
                                 reason="the expectations say which platform a plain pull takes: linux/amd64")]


def content_size(image) -> int:
    """Return a platform's CONTENT SIZE when all its blobs are here: manifest + config + layers."""
    return len(image.manifest) + len(image.config) + sum(lb.size for lb in image.layers)


@pytest.fixture
def published(distribution_registry, tmp_path):
    """A three-platform index (lab/multi:v1) and a single-manifest image (lab/single:v1) in docker-registry,
    pushed by skopeo; returns (registry host, index, single image)."""
    images = [factory.make_image([{"etc/os-release": f"ID=lab\nARCH={p}\n".encode(),
                                   "opt/data.bin": bytes(range(256)) * (8 + 4 * n)}], platform=p,
                                  created=f"2016-09-2{3 + n}T17:20:10Z")
              for n, p in enumerate(PLATFORMS)]
    index = factory.make_index(images)
    single = factory.make_image([{"hello.txt": b"hello\n" * 300}], created="2017-01-02T03:04:05Z")  # newer
    host = distribution_registry.host
    skopeo.push_built(tmp_path, index, f"{host}/lab/multi:v1")
    skopeo.push_built(tmp_path, single, f"{host}/lab/single:v1")
    return host, index, single


def skopeo_digest(ref: str) -> str:
    """Return the Digest `skopeo inspect` reports for docker://`ref` (the digest of the manifest or index the
    tag names)."""
    return json.loads(skopeo.run("inspect", "--tls-verify=false", f"docker://{ref}"))["Digest"]


def skopeo_config_digest(ref: str, arch: str, variant: str = "") -> str:
    """Return the digest of the config skopeo reads for one platform of docker://`ref`."""
    args = ["--override-os", "linux", "--override-arch", arch] + (["--override-variant", variant] if variant else [])
    raw = skopeo.run(*args, "inspect", "--tls-verify=false", "--config", "--raw", f"docker://{ref}")
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def tree_rows(name: str, rows: list) -> list:
    """Return `images --tree` lines for one image: `rows` are (first cell, ID, DISK USAGE, CONTENT SIZE); the
    IMAGE column is as wide as the widest name or branch (tree.go widestFirstColumnValue measures the branch
    "└─ " in bytes: 7), then ID (12), DISK USAGE (10, right), CONTENT SIZE (12, right), EXTRA, 3 spaces apart."""
    width = max(len("IMAGE"), len(name), *(len(r[0]) + 4 for r in rows[1:]))
    header = "IMAGE".ljust(width) + "   ID             DISK USAGE   CONTENT SIZE   EXTRA"
    lines = [header]
    for first, image_id, disk, content in rows:
        lines.append(f"{first.ljust(width)}   {image_id[7:19]}   {disk:>10}   {content:>12}        ")
    return lines


def test_containerd_id_is_skopeos_digest_and_pull_platform_adds_a_platform(published):
    host, index, single = published
    multi, one = f"{host}/lab/multi:v1", f"{host}/lab/single:v1"
    assert skopeo_digest(multi) == str(index.digest)  # the peer names the index
    assert skopeo_digest(one) == str(single.manifest_digest)

    assert run("pull", multi)[0] == 0
    assert run("pull", one)[0] == 0
    amd64, arm64, arm = (index.image_for(p) for p in PLATFORMS)

    # Docker 29: the ID is the pulled digest, in inspect, images, images --digests, images --no-trunc
    assert run("inspect", "-f", "{{.Id}}", multi)[1] == f"{skopeo_digest(multi)}\n"
    assert run("inspect", "-f", "{{.Id}}", one)[1] == f"{skopeo_digest(one)}\n"
    assert run("images", "--format", "{{.Repository}} {{.ID}}")[1] == (
        f"{host}/lab/single {single.manifest_digest.hex[:12]}\n{host}/lab/multi {index.digest.hex[:12]}\n")
    digests = run("images", "--digests", "--no-trunc", "--format", "{{.Digest}} {{.ID}}", multi)[1]
    assert digests == f"{index.digest} {index.digest}\n"
    # Docker 28 (graphdriver): the ID is the config digest of the pulled platform; the digest stays the index
    assert run("--image-store", "graphdriver", "inspect", "-f", "{{.Id}} {{json .RepoDigests}}", multi)[1] == (
        f'{skopeo_config_digest(multi, "amd64")} ["{host}/lab/multi@{index.digest}"]\n')

    # every platform of the index is listed; only the pulled one has blobs here
    a = content_size(amd64)
    a_disk = a + amd64.files_size
    assert run("images", "--tree", multi)[1].splitlines() == tree_rows(f"{host}/lab/multi:v1", [
        (f"{host}/lab/multi:v1", str(index.digest), human_size(a_disk), human_size(a)),
        ("├─ linux/amd64", str(amd64.manifest_digest), human_size(a_disk), human_size(a)),
        ("├─ linux/arm64/v8", str(arm64.manifest_digest), "0B", "0B"),
        ("└─ linux/arm/v7", str(arm.manifest_digest), "0B", "0B"),
    ]) + [""]

    # pull --platform: the same image, one more platform's blobs; its ID is still what skopeo reports
    assert run("pull", "--platform", "linux/arm64", multi)[0] == 0
    b = content_size(arm64)
    b_disk = b + arm64.files_size
    assert run("images", "--tree", multi)[1].splitlines() == tree_rows(f"{host}/lab/multi:v1", [
        (f"{host}/lab/multi:v1", str(index.digest), human_size(a_disk + b_disk), human_size(a + b)),
        ("├─ linux/amd64", str(amd64.manifest_digest), human_size(a_disk), human_size(a)),
        ("├─ linux/arm64/v8", str(arm64.manifest_digest), human_size(b_disk), human_size(b)),
        ("└─ linux/arm/v7", str(arm.manifest_digest), "0B", "0B"),
    ]) + [""]
    assert run("images", "-q", "--no-trunc")[1] == f"{single.manifest_digest}\n{index.digest}\n"
    assert run("inspect", "-f", "{{.Id}} {{.Architecture}}", multi)[1] == f"{skopeo_digest(multi)} amd64\n"
    # Docker 28: the tag moved to the arm64 config, the amd64 one is left without a name
    graphdriver = run("--image-store", "graphdriver", "images", "--no-trunc", "--format", "{{.Tag}} {{.ID}}")[1]
    assert graphdriver.splitlines() == [f"v1 {single.config_digest}",
                                        f"v1 {skopeo_config_digest(multi, 'arm64', 'v8')}",
                                        f"<none> {skopeo_config_digest(multi, 'amd64')}"]


def test_the_skopeo_digest_names_the_image_in_every_verb(published, labkit_home):
    host, index, single = published
    multi = f"{host}/lab/multi:v1"
    run("pull", multi)
    full = skopeo_digest(multi)
    short = full[7:19]
    for name in (full, full[7:], short):  # docker accepts the full ID, its hex, or a unique prefix
        assert run("inspect", "-f", "{{.Id}}", name)[1] == f"{full}\n"
        assert run("image", "inspect", "-f", "{{.Id}}", name)[1] == f"{full}\n"
    assert run("tag", full, "copy:1") == (0, "", "")
    assert run("tag", short, "copy:2") == (0, "", "")
    assert run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "copy")[1] == f"copy:1 {short}\ncopy:2 {short}\n"
    assert run("history", "-q", "--no-trunc", full)[1].splitlines()[0] == full
    # an ID of the other store names nothing here, and changes nothing
    config_id = skopeo_config_digest(multi, "amd64")
    before = home_state(labkit_home)
    for argv, error in ((["rmi", config_id], "No such image"), (["tag", config_id, "x:1"], "No such image"),
                        (["inspect", config_id], "No such object"), (["image", "inspect", config_id], "No such image")):
        assert run(*argv) == (1, "[]\n" if "inspect" in argv else "", f"Error: {error}: {config_id}\n"), argv
    assert home_state(labkit_home) == before
    # Docker 29's rmi by ID (moby daemon/containerd/image_delete.go deleteAll): every name, in containerd's
    # order (its image list is sorted by full name: "127.0.0.1:..." before "docker.io/library/copy:1"), then
    # the image itself, the index
    status, out, err = run("rmi", "-f", full)
    assert (status, err) == (0, "")
    assert out.splitlines() == [f"Untagged: {host}/lab/multi:v1", "Untagged: copy:1", "Untagged: copy:2",
                                f"Deleted: {full}"]
    assert run("images", "-a", "-q")[1] == ""

