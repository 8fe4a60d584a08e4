"""The shipped lab images: reproducible from the recipes, complete for the lab text, readable by skopeo."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from labkit.digest import Digest
from labkit.formatting import time_ago
from labkit.labimages import LAB_NOW, LAYOUT_DIR, copy_layout, recipes
from labkit.labimages.build import build, image_config, layer_tar, verify
from labkit.oci import ImageConfig, Index, Manifest, chain_ids, parse_manifest
from labkit.oci.keys import LABEL_AUTOMATED, LABEL_DESCRIPTION, LABEL_OFFICIAL, LABEL_STARS, REF_NAME, REPOSITORY

from helpers import peers

# The digests of the shipped manifests (index for busybox). They change only when a recipe changes
# (a rebuild reuses the shipped gzip bytes for unchanged layers): update this table with the recipe.
MANIFEST_DIGESTS = {
    "library/busybox:latest": "sha256:1cd70b77611bfbe5ddd88cfc055b804bede94ff96b69e36a24d1c768d03661c1",
    "library/ubuntu:latest": "sha256:a68c429bdb602fcc49604520f50ec166c22bab86ec70eff6ede439323f28c07e",
    "library/ubuntu:16.04": "sha256:a68c429bdb602fcc49604520f50ec166c22bab86ec70eff6ede439323f28c07e",
    "library/ubuntu:xenial": "sha256:a68c429bdb602fcc49604520f50ec166c22bab86ec70eff6ede439323f28c07e",
    "library/debian:jessie": "sha256:7b5e3ab7cd821e9b3b69c837a3cd7a7a481255a19ec2008bf9b7f35c25c7b0b3",
    "library/debian:8": "sha256:7b5e3ab7cd821e9b3b69c837a3cd7a7a481255a19ec2008bf9b7f35c25c7b0b3",
    "library/debian:latest": "sha256:8adb23c87f8d5d3eadfb7323fcaca84c06517851a0b53077f0c22cff05fbbfa3",
    "library/httpd:latest": "sha256:e10225bb95dc0c7257d526f2def9c6c65d948723591263159e127d2dc0bc882b",
    "library/httpd:2.4": "sha256:e10225bb95dc0c7257d526f2def9c6c65d948723591263159e127d2dc0bc882b",
    "library/node:latest": "sha256:da07d6ae52c59cf0c427bcd43fbe29a74f939eb3b06802a87addf430d136da39",
    "library/node:7": "sha256:da07d6ae52c59cf0c427bcd43fbe29a74f939eb3b06802a87addf430d136da39",
    "hcscompany/clock:latest": "sha256:c2b83e006290ab684c80d0fad05efc2a15f50fe656f96d78f1f6d4e8570a36aa",
    "mkerker/duckhunt:latest": "sha256:29fbb0901d90811a19e8f0727490f2c2cda5f3499c4b131c55ea0b8453314ada",
    "library/zookeeper:latest": "sha256:2564c8ae1ef36ed6bf8f53a8e95769783d9dc6c8d2e618057f038c2e51876f4a",
    "jplock/zookeeper:latest": "sha256:7e4076d3293bd6d74e7ae9e7d0370d8aa323e771030d0bab072ac3e7ff053bee",
    "mesoscloud/zookeeper:latest": "sha256:f857ff64203451ac9b25eefb138b8e460e27fcac1cf472a65165c0a42ff6db1d",
    "digitalwonderland/zookeeper:latest": "sha256:b3579c67dd4aa1acab8e90a59803b0aba35629b7cd5a228a464d7d3962391484",
    "springxd/zookeeper:latest": "sha256:b2a29b8672cd5f16e8c5e561f3605d18e4bf5bfc361eb15be1836092178b1c7f",
    "elevy/zookeeper:latest": "sha256:f6d21d0b0e66ac7bca6e1bf72b8633b2fb99b147abb4bf2cc35d985a9da03697",
    "debezium/zookeeper:latest": "sha256:2dc097956df27b1f8af2a5bdfa9b4bbe2ac814f74cb2f41060904903643e87cf",
    "library/centos:7": "sha256:8222954e756b40fd1d1d93c162b90681480d209aa0edbe64b6751b28ba18c04c",
    "library/centos:latest": "sha256:8222954e756b40fd1d1d93c162b90681480d209aa0edbe64b6751b28ba18c04c",
    "labkit/webapp:1.0": "sha256:ca37770017acdd102e1a26ee330a6614c2a72bfcf899d633ea7ee51c450fc8ab",
    "labkit/webapp:1.1": "sha256:e6a8a317825edd2b756a874ecfa0f7f3d2d9c7f6ef92fdd9f6207a84c2ddd645",
    "labkit/webapp:latest": "sha256:e6a8a317825edd2b756a874ecfa0f7f3d2d9c7f6ef92fdd9f6207a84c2ddd645",
    "labkit/reports:1.0": "sha256:a3efab68dc6193850a215c7ddfea88a915607e67cf847963ebcff56091846ae7",
    "labkit/reports:latest": "sha256:a3efab68dc6193850a215c7ddfea88a915607e67cf847963ebcff56091846ae7",
}

# Image IDs (config digests) depend on the recipes only, never on zlib: the IMAGE ID column students see.
IMAGE_IDS = {
    "busybox-amd64": "sha256:0e541c94785291e66e266a72797da77ddded855f22cd3fa901327d1283476cbd",
    "busybox-arm64": "sha256:37d1408bf91250df8e9ae09696a80c18c36557e55aa9c379c8710116dd40058e",
    "ubuntu-latest": "sha256:bc328938f926dc42a3812b2433173d4fa49cf3aedc1055148b94be356db4faea",
    "debian-jessie": "sha256:d1971ee19bccd6bdf513fc100686c85499f5425bdc534b123287fb282b0c25b9",
    "debian-latest": "sha256:435406039220f532cd0de93b610193c81b17a39310f44feeb2dfb9e9e3a6f155",
    "httpd-latest": "sha256:03b4cac976c4d6f75f23d6fefdcfbd39bb4fec737f27721dcdacc97f45ce0ffc",
    "node-latest": "sha256:3c076ad85b5ab8728e44ae1de2b4a4ee7d0e51495e8def9af4628b5f39c996b2",
    "clock-latest": "sha256:2a4c2caa034f90d430f0a17933e7e950b6ad22fb7a363bab5f40acc01ddbe8c2",
    "duckhunt-latest": "sha256:e5f20e029c9dd4e18acd973e199c7dac33570ae46bb9bdbde1d7cd4c1e57380e",
    "zookeeper-library": "sha256:6f1693ccef4f9be151187274ea9fdf66fd1cd7e0d36c1313a976beead242df1e",
    "zookeeper-jplock": "sha256:b5e65ad30e1a19cc82413a462d25651e44d37ba46338574f4b9578279a180f61",
    "zookeeper-mesoscloud": "sha256:998ab6a7301c687eae826786c72ee17b033f1e4b62ee7ef24e472536b9c728df",
    "zookeeper-digitalwonderland": "sha256:c2a26a8af023cc7ab6dc66f0d8a3884466fa81db0fe86b7fcdba44a1290962a1",
    "zookeeper-springxd": "sha256:a624463aaacb3020b767b447cabaab3c7ed2948c02ee664f528be30ab012df57",
    "zookeeper-elevy": "sha256:f9210d45a25fb713d0c7426394f7a8ddf0323a56a922244a9c602985601cf19c",
    "zookeeper-debezium": "sha256:a0bd94c0d480b66cd9d45a4b4ff8c5103bc4efe9cb6ce37bd13b511ed5740555",
    "centos-7": "sha256:2d1e337594d1ab9831339740bc629af8abec4ccedf225413c6795e00cfafdb74",
    "webapp-1.0": "sha256:9c8baa13d6df4c9f6ae2e2d50db83c51ef8a296aebd3101d3cbdbff80a94dcc7",
    "webapp-1.1": "sha256:92330b9edd7fe6fcf309f4a05ce916eb722f708bb003d286ae1e83cdf105ec30",
    "reports-1.0": "sha256:038581fd39173a8f9f6ad09917056fc44db201854a5d65504bf543322b0eaea8",
}

# Every image the lab text names (docker's familiar form) -> its repository path in the lab registry.
NAMED_IN_LAB = {
    "busybox": "library/busybox:latest",
    "ubuntu": "library/ubuntu:latest",
    "debian:jessie": "library/debian:jessie",
    "debian:8": "library/debian:8",
    "debian": "library/debian:latest",
    "httpd": "library/httpd:latest",
    "node": "library/node:latest",
    "hcscompany/clock": "hcscompany/clock:latest",
    "mkerker/duckhunt": "mkerker/duckhunt:latest",
    "zookeeper": "library/zookeeper:latest",
    "jplock/zookeeper": "jplock/zookeeper:latest",
    "mesoscloud/zookeeper": "mesoscloud/zookeeper:latest",
    "digitalwonderland/zookeeper": "digitalwonderland/zookeeper:latest",
    "springxd/zookeeper": "springxd/zookeeper:latest",
    "elevy/zookeeper": "elevy/zookeeper:latest",
    "debezium/zookeeper": "debezium/zookeeper:latest",
    "centos": "library/centos:latest",
}

# `docker images` in step 1 of the lab text, relative to LAB_NOW.
CREATED_COLUMN = {
    "mkerker/duckhunt:latest": "2 months ago",
    "library/node:latest": "2 months ago",
    "library/httpd:latest": "2 months ago",
    "library/busybox:latest": "3 months ago",
    "library/ubuntu:latest": "3 months ago",
    "hcscompany/clock:latest": "2 years ago",
}

# `docker search zookeeper` in step 2: name, DESCRIPTION column (45 characters at most), stars, official, automated.
SEARCH_TABLE = [
    ("jplock/zookeeper", "Builds a docker image for Zookeeper versio...", 159, False, True),
    ("library/zookeeper", "Apache ZooKeeper is an open-source server ...", 132, True, False),
    ("mesoscloud/zookeeper", "ZooKeeper", 70, False, True),
    ("digitalwonderland/zookeeper", "Latest Zookeeper - clusterable", 12, False, True),
    ("springxd/zookeeper", "A Docker image that can run a ZooKeeper se...", 6, False, True),
    ("elevy/zookeeper", "ZooKeeper configured to execute an ensembl...", 6, False, True),
    ("debezium/zookeeper", "Zookeeper image required when running the ...", 3, False, True),
]

LAYER_COUNTS = {
    "library/debian:jessie": 1,   # the lab's pull shows one "Pull complete"
    "library/ubuntu:latest": 5,
    "library/httpd:latest": 5,
    "library/node:latest": 7,
    "labkit/webapp:latest": 6,    # CentOS, JRE, Tomcat, dependencies, application JAR, configuration
}


# --- helpers ----------------------------------------------------------------------------------------------

def _index() -> dict:
    return json.loads((LAYOUT_DIR / "index.json").read_bytes())


def _tags() -> dict[str, dict]:
    return {m["annotations"][REF_NAME]: m for m in _index()["manifests"]
            if REF_NAME in m.get("annotations", {})}


def _blob(digest) -> bytes:
    d = Digest.parse(str(digest))
    return (LAYOUT_DIR / "blobs" / d.algorithm / d.hex).read_bytes()


def _manifest(ref: str, arch: str = "amd64") -> Manifest:
    doc = parse_manifest(_blob(_tags()[ref]["digest"]))
    if isinstance(doc, Index):
        doc = Manifest.from_bytes(_blob(doc.select(f"linux/{arch}").digest))
    return doc


def _config(ref: str, arch: str = "amd64") -> ImageConfig:
    return ImageConfig.from_bytes(_blob(_manifest(ref, arch).config.digest))


def _members(layer_digest) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(_blob(layer_digest)))) as tf:
        return {m.name: m for m in tf.getmembers()}


def _ellipsis(text: str, maxlen: int = 45) -> str:
    """docker search's DESCRIPTION column (stringutils.Ellipsis)."""
    return text if len(text) <= maxlen else text[:maxlen - 3] + "..."


# --- reproducibility --------------------------------------------------------------------------------------

def test_rebuilt_layer_tars_have_the_shipped_diff_ids():
    for image in recipes.images():
        shipped = [d for d in _shipped_config(image).diff_ids]
        rebuilt = [layer_tar(layer)[0] for layer in image.layers]
        assert rebuilt == shipped, image.key


def _shipped_config(image) -> ImageConfig:
    for repo in recipes.repositories():
        for tag, target in repo.tags.items():
            images = target if isinstance(target, tuple) else (target,)
            if image in images:
                return _config(f"{repo.path}:{tag}", image.architecture)
    raise AssertionError(f"{image.key} is in no repository")


def test_shipped_configs_equal_the_recipes_byte_for_byte():
    assert verify(LAYOUT_DIR) == []


@pytest.mark.parametrize("key,image_id", sorted(IMAGE_IDS.items()))
def test_image_ids_are_pinned(key, image_id):
    image = {i.key: i for i in recipes.images()}[key]
    assert str(Digest.of(image_config(image))) == image_id


def test_manifest_digests_are_pinned():
    assert {ref: m["digest"] for ref, m in _tags().items()} == MANIFEST_DIGESTS


def test_every_blob_is_intact_referenced_and_the_package_stays_small():
    blobs = {}
    for p in (LAYOUT_DIR / "blobs" / "sha256").iterdir():
        data = p.read_bytes()
        assert str(Digest.of(data)) == f"sha256:{p.name}"
        blobs[f"sha256:{p.name}"] = len(data)
    reachable = set()
    todo = [m["digest"] for m in _index()["manifests"]]
    while todo:
        d = todo.pop()
        if d in reachable:
            continue
        reachable.add(d)
        doc = json.loads(_blob(d))
        todo += [m["digest"] for m in doc.get("manifests", [])]
        if "config" in doc:
            reachable.add(doc["config"]["digest"])
            reachable.update(layer["digest"] for layer in doc["layers"])
    assert reachable == set(blobs)
    assert sum(blobs.values()) < 3_000_000
    assert json.loads((LAYOUT_DIR / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}


def test_a_rebuild_over_a_copy_of_the_layout_changes_nothing(tmp_path):
    copy = tmp_path / "layout"
    shutil.copytree(LAYOUT_DIR, copy)
    report = build(copy)
    assert report.compressed == 0 and report.reused > 0
    assert (copy / "index.json").read_bytes() == (LAYOUT_DIR / "index.json").read_bytes()
    assert sorted(p.name for p in (copy / "blobs" / "sha256").iterdir()) == \
        sorted(p.name for p in (LAYOUT_DIR / "blobs" / "sha256").iterdir())


def test_a_fresh_build_gives_the_same_image_ids(tmp_path):
    report = build(tmp_path / "fresh", reuse=False)
    assert report.reused == 0
    assert verify(tmp_path / "fresh") == []


def test_copy_layout_seeds_a_registry_root(tmp_path):
    root = copy_layout(tmp_path / "root")
    assert (root / "index.json").read_bytes() == (LAYOUT_DIR / "index.json").read_bytes()
    assert len(list((root / "blobs" / "sha256").iterdir())) == len(list((LAYOUT_DIR / "blobs" / "sha256").iterdir()))


# --- what the lab text needs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("familiar,ref", sorted(NAMED_IN_LAB.items()))
def test_every_image_the_lab_names_is_shipped(familiar, ref):
    entry = _tags()[ref]
    repo = ref.rsplit(":", 1)[0]
    assert entry["annotations"] == {REF_NAME: ref, REPOSITORY: repo}
    assert familiar.split(":")[0] == repo.removeprefix("library/")
    assert _config(ref).labels["io.labkit.stand-in"].startswith("labkit lab stand-in for")


def test_busybox_is_an_index_for_amd64_and_arm64():
    index = Index.from_bytes(_blob(_tags()["library/busybox:latest"]["digest"]))
    assert [str(d.platform) for d in index.manifests] == ["linux/amd64", "linux/arm64/v8"]
    amd, arm = _config("library/busybox:latest", "amd64"), _config("library/busybox:latest", "arm64")
    assert (amd.architecture, arm.architecture) == ("amd64", "arm64")
    assert amd.diff_ids != arm.diff_ids
    # the registry serves a platform manifest by digest only if index.json records it (untagged)
    untagged = {m["digest"] for m in _index()["manifests"] if REF_NAME not in m["annotations"]}
    assert {str(d.digest) for d in index.manifests} <= untagged


def test_debian_tags_jessie_and_8_are_one_image_and_latest_is_newer():
    tags = _tags()
    assert tags["library/debian:jessie"]["digest"] == tags["library/debian:8"]["digest"]
    assert tags["library/debian:latest"]["digest"] != tags["library/debian:jessie"]["digest"]
    assert _config("library/debian:latest").created > _config("library/debian:jessie").created


@pytest.mark.parametrize("ref,count", sorted(LAYER_COUNTS.items()))
def test_layer_counts_are_believable(ref, count):
    assert len(_manifest(ref).layers) == count
    assert len(_config(ref).diff_ids) == count


@pytest.mark.parametrize("ref,column", sorted(CREATED_COLUMN.items()))
def test_created_matches_the_lab_text_at_lab_now(ref, column):
    now = datetime.strptime(LAB_NOW, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert time_ago(_config(ref).created, now) == column


def test_images_list_in_the_lab_texts_order_newest_first():
    order = sorted(CREATED_COLUMN, key=lambda ref: _config(ref).created, reverse=True)
    assert order == list(CREATED_COLUMN)


@pytest.mark.parametrize("name,column,stars,official,automated", SEARCH_TABLE)
def test_search_labels_match_the_lab_texts_table(name, column, stars, official, automated):
    labels = _config(f"{name}:latest").labels
    assert _ellipsis(labels[LABEL_DESCRIPTION]) == column
    if column.endswith("..."):
        assert labels[LABEL_DESCRIPTION].endswith(".") and len(labels[LABEL_DESCRIPTION]) > 45  # a full sentence
    assert labels[LABEL_STARS] == str(stars)
    assert labels[LABEL_OFFICIAL] == ("true" if official else "false")
    assert labels[LABEL_AUTOMATED] == ("true" if automated else "false")


def test_every_repository_has_search_labels():
    for ref in _tags():
        labels = _config(ref).labels
        assert labels[LABEL_DESCRIPTION] and int(labels[LABEL_STARS]) >= 0, ref


def test_the_two_web_applications_share_their_lower_layers():
    webapp, reports = _config("labkit/webapp:latest"), _config("labkit/reports:latest")
    old = _config("labkit/webapp:1.0")
    assert webapp.chain_ids[:3] == reports.chain_ids[:3]        # CentOS, JRE, Tomcat
    assert webapp.chain_ids[3] != reports.chain_ids[3]          # their own dependencies
    assert webapp.chain_ids[:4] == old.chain_ids[:4]            # 1.0 -> 1.1 changed only the JAR and config
    assert webapp.chain_ids[4] != old.chain_ids[4]
    assert webapp.diff_ids[0] == _config("library/centos:7").diff_ids[0]
    # the same layer is the same blob: pulled and stored once
    assert _manifest("labkit/webapp:latest").layers[:3] == _manifest("labkit/reports:latest").layers[:3]
    history = [h["created_by"] for h in webapp.history if not h.get("empty_layer")]
    assert "ADD file:" in history[0] and "java-1.8.0-openjdk" in history[1] and "tomcat" in history[2]
    assert [c.hex for c in chain_ids(webapp.diff_ids)] == [c.hex for c in webapp.chain_ids]


def test_debian_based_images_share_the_jessie_layer():
    jessie = _config("library/debian:jessie").diff_ids[0]
    for ref in ("library/httpd:latest", "library/node:latest", "mkerker/duckhunt:latest", "library/zookeeper:latest"):
        assert _config(ref).diff_ids[0] == jessie, ref
    assert _config("mkerker/duckhunt:latest").chain_ids[:7] == _config("library/node:latest").chain_ids


def test_history_reads_like_docker_history():
    ubuntu = _config("library/ubuntu:latest")
    lines = [h["created_by"] for h in ubuntu.history]
    assert lines[0].startswith("/bin/sh -c #(nop) ADD file:") and lines[0].endswith(" in / ")
    assert lines[1] == "/bin/sh -c rm -rf /var/lib/apt/lists/*"
    assert lines[-1] == '/bin/sh -c #(nop)  CMD ["/bin/bash"]' and ubuntu.history[-1]["empty_layer"] is True
    assert ubuntu.cmd == ["/bin/bash"]
    httpd = _config("library/httpd:latest")
    assert httpd.cmd == ["httpd-foreground"] and httpd.working_dir == "/usr/local/apache2"
    assert httpd.exposed_ports == ["80/tcp"] and "HTTPD_VERSION=2.4.23" in httpd.env
    assert sum(1 for h in httpd.history if h.get("empty_layer")) >= 5
    assert len(httpd.layer_history()) == len(httpd.history)


# --- what the layer notebooks teach ---------------------------------------------------------------------------

def test_base_layers_look_like_a_root_filesystem():
    for ref in ("library/debian:jessie", "library/ubuntu:latest", "library/centos:7", "library/busybox:latest"):
        members = _members(_manifest(ref).layers[0].digest)
        for path in ("etc/passwd", "etc/group"):
            assert members[path].isfile(), (ref, path)
        assert any(name.startswith("bin/") for name in members) or members["bin"].issym(), ref
    os_release = _members(_manifest("library/debian:jessie").layers[0].digest)["etc/os-release"]
    assert os_release.size > 0


def test_ubuntu_has_usr_symlinks_hard_links_and_a_whiteout_layer():
    layers = _manifest("library/ubuntu:latest").layers
    base = _members(layers[0].digest)
    assert base["lib"].issym() and base["lib"].linkname == "usr/lib"
    assert base["usr/bin/perl5.22.1"].islnk() and base["usr/bin/perl5.22.1"].linkname == "usr/bin/perl"
    assert base["usr/bin/su"].mode & 0o4000
    assert "var/lib/apt/lists/lock" in base
    rm = _members(layers[1].digest)
    assert "var/lib/apt/lists/.wh.lock" in rm
    assert all(n.startswith("var/lib/apt/lists") for n in rm)


def test_httpd_has_an_opaque_directory():
    layers = _manifest("library/httpd:latest").layers
    below = _members(layers[2].digest)
    assert "usr/local/apache2/htdocs/manual.html" in below
    opaque = _members(layers[3].digest)
    assert "usr/local/apache2/htdocs/.wh..wh..opq" in opaque
    assert "usr/local/apache2/htdocs/index.html" in opaque


def test_busybox_applets_are_hard_links_to_one_binary():
    members = _members(_manifest("library/busybox:latest").layers[0].digest)
    links = [m for m in members.values() if m.islnk()]
    assert len(links) >= 50
    carrier = {m.linkname for m in links}
    assert len(carrier) == 1 and members[carrier.pop()].size > 1_000_000


def test_the_application_jar_is_a_deterministic_zip():
    import zipfile

    members = _members(_manifest("labkit/webapp:1.0").layers[4].digest)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(_blob(_manifest("labkit/webapp:1.0").layers[4].digest)))) as tf:
        data = tf.extractfile("opt/app/webapp-1.0.jar").read()
    assert "opt/app/webapp-1.0.jar" in members
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        assert "io/labkit/webapp/Application.class" in z.namelist()
        assert b"Main-Class: io.labkit.webapp.Application" in z.read("META-INF/MANIFEST.MF")
    assert data == recipes._app_jar("webapp", "1.0", recipes._WEBAPP_CLASSES)


def test_filler_is_deterministic_and_sized():
    assert recipes.filler("x", 10_000) == recipes.filler("x", 10_000)
    assert len(recipes.filler("x", 12_345)) == 12_345
    assert recipes.filler("x", 100) != recipes.filler("y", 100)
    assert recipes.elf("ls", 4096).startswith(b"\x7fELF")


# --- peers ---------------------------------------------------------------------------------------------------

@pytest.mark.interop("skopeo")
@pytest.mark.parametrize("ref", ["library/debian:jessie", "library/ubuntu:latest", "labkit/webapp:latest",
                                 "library/zookeeper:latest"])
def test_skopeo_reads_the_shipped_layout(ref):
    out = peers.run("skopeo", "inspect", f"oci:{LAYOUT_DIR}:{ref}")
    info = json.loads(out)
    assert info["Digest"] == MANIFEST_DIGESTS[ref]
    assert info["Layers"] == [str(layer.digest) for layer in _manifest(ref).layers]
    assert info["Labels"]["io.labkit.stand-in"].startswith("labkit lab stand-in")


@pytest.mark.interop("skopeo")
def test_skopeo_reads_both_busybox_platforms():
    for arch in ("amd64", "arm64"):
        out = peers.run("skopeo", "--override-arch", arch, "inspect", f"oci:{LAYOUT_DIR}:library/busybox:latest")
        assert json.loads(out)["Architecture"] == arch


def test_every_layer_has_exactly_one_history_step():
    for image in recipes.images():
        config = ImageConfig.from_bytes(image_config(image))
        made_layers = [h for h in config.history if not h.get("empty_layer")]
        assert len(made_layers) == len(config.diff_ids), image.key
        assert config.history[-1].get("empty_layer") is True, image.key  # a CMD last, as docker builds end


@pytest.mark.interop("umoci")
def test_umoci_unpacks_whiteouts_and_opaque_directories(tmp_path):
    def unpack(ref: str) -> Path:
        bundle = tmp_path / ref.replace("/", "_").replace(":", "_")
        peers.run("umoci", "unpack", "--rootless", "--image", f"{LAYOUT_DIR}:{ref}", str(bundle))
        return bundle / "rootfs"

    ubuntu = unpack("library/ubuntu:latest")
    assert sorted(p.name for p in (ubuntu / "var/lib/apt/lists").iterdir()) == ["partial"]
    assert (ubuntu / "lib").is_symlink() and (ubuntu / "run/systemd/container").read_text() == "docker\n"
    assert (ubuntu / "usr/bin/perl").stat().st_ino == (ubuntu / "usr/bin/perl5.22.1").stat().st_ino
    httpd = unpack("library/httpd:latest")
    assert sorted(p.name for p in (httpd / "usr/local/apache2/htdocs").iterdir()) == ["index.html"]
    assert "(lab stand-in)" in (httpd / "usr/local/apache2/htdocs/index.html").read_text()
