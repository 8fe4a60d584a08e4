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
    "library/busybox:latest": "sha256:5da0d7d5d2c185508189f839cbbf24470151babb4e788eb1885e5ba9405217cf",
    "library/ubuntu:latest": "sha256:2ef7a561598f0202ae1bb33407bb150e5aa49a3f04af7635d8741445fcf5125e",
    "library/ubuntu:16.04": "sha256:2ef7a561598f0202ae1bb33407bb150e5aa49a3f04af7635d8741445fcf5125e",
    "library/ubuntu:xenial": "sha256:2ef7a561598f0202ae1bb33407bb150e5aa49a3f04af7635d8741445fcf5125e",
    "library/debian:jessie": "sha256:4ebdb9ed735959424241687b7f3ce9ddf8d49ad233b8eb976084efd204b72cbb",
    "library/debian:8": "sha256:4ebdb9ed735959424241687b7f3ce9ddf8d49ad233b8eb976084efd204b72cbb",
    "library/debian:latest": "sha256:f741ebc49dea68c7371a7fa93788df34c0bc23f2d83381e6db54e0cf2eb8ce2e",
    "library/httpd:latest": "sha256:b899703aa929ee18594bf99adc5c3b7c5e7d00f40529d00c4f4334f519bd9b3e",
    "library/httpd:2.4": "sha256:b899703aa929ee18594bf99adc5c3b7c5e7d00f40529d00c4f4334f519bd9b3e",
    "library/node:latest": "sha256:a39884c19ba092e9d93760a19c5c03c2ae49b94910935a50c2aadfe894d111ac",
    "library/node:7": "sha256:a39884c19ba092e9d93760a19c5c03c2ae49b94910935a50c2aadfe894d111ac",
    "hcscompany/clock:latest": "sha256:6c633558880f48fd7a51275be1a732f9d69f9a8cb6272fb48adcec0ad4b09cf3",
    "mkerker/duckhunt:latest": "sha256:fd2f6a743ba8948b51ef7b81b9ad88e2ba3059139b0429269caf6ee806467345",
    "library/zookeeper:latest": "sha256:29ea7b457472eee137658dee11c5f9887951ba4a136c0c8ab19d243ff07743f0",
    "jplock/zookeeper:latest": "sha256:574f3e07d5fef329b975d2811fb17eb82bc42fe411e6d234628206d055812257",
    "mesoscloud/zookeeper:latest": "sha256:2909b509542dfb312c10f546e0527192d7c2737c1a2a1b6982f30cfde7857780",
    "digitalwonderland/zookeeper:latest": "sha256:b400f6d43a7d569ce33e1510c59591d764b25800ed810aff7d0c0cff88caa3be",
    "springxd/zookeeper:latest": "sha256:44e70da004d6c89041c02ac91259187c2856d09960aabe1b26c41029e2ad4d4a",
    "elevy/zookeeper:latest": "sha256:91035b88d1185f898bda97c1a6dd59c90308a9ba2dafb1088e92daa7074d5536",
    "debezium/zookeeper:latest": "sha256:a7f280cc95de5f46a8e9bd91ae0ac6a08d7fbb7472a0d1fc95af475499e1cf43",
    "library/centos:7": "sha256:df0a463ddbea3505144dd8aceb7de0414144aa089069d63f830e8a664b9c0c2c",
    "library/centos:latest": "sha256:df0a463ddbea3505144dd8aceb7de0414144aa089069d63f830e8a664b9c0c2c",
    "labkit/webapp:1.0": "sha256:45696691642c459f16ed4a6cef9b54e63953ca237fc38eba13ef613eeb7eb826",
    "labkit/webapp:1.1": "sha256:ee91cd42815c760dca29285a1342a9478016a178240a0c615e021f4edf25188c",
    "labkit/webapp:latest": "sha256:ee91cd42815c760dca29285a1342a9478016a178240a0c615e021f4edf25188c",
    "labkit/reports:1.0": "sha256:33fa221e90b4e607040dd9a4d83ab73b3502b13185c5f4f18af646dd74594648",
    "labkit/reports:latest": "sha256:33fa221e90b4e607040dd9a4d83ab73b3502b13185c5f4f18af646dd74594648",
}

# Image IDs (config digests) depend on the recipes only, never on zlib: the IMAGE ID column students see.
IMAGE_IDS = {
    "busybox-amd64": "sha256:e078cf11af374df5fa1012935b08105c876350c06d9d208c828b3d3b7f160fa1",
    "busybox-arm64": "sha256:9c44e287d2503ef103b0877409cf994ca6b3a9d0ab9d0a3d6d6c102c38ce0542",
    "ubuntu-latest": "sha256:888f79737d0d0f5a4ad63c6435ebb88e1c44340af21d44c0faa4baf90d4d9e94",
    "debian-jessie": "sha256:1a61b5da09ad73efb8e311ce32a0117923f89f4cf514254bf03603465cca70a1",
    "debian-latest": "sha256:7aa9200e5811a7f9fb1945464c2016855d1239b4cd04e696a687caa2cb0b351e",
    "httpd-latest": "sha256:be3bd9f838378e9ddcc6787099be455ced6021f5289a84a70a20f4f00f36d9e5",
    "node-latest": "sha256:86a335c94770352888a1a90a52a0ff2996db6174305e8f4800a309ba26c44c2c",
    "clock-latest": "sha256:23d10778e546aba7ba47c0cf5187125f10cbeb293966d8739a7f655628d2d666",
    "duckhunt-latest": "sha256:2e3863ab209c53b65dacf8772029a24714eb1bdb4999567bd28dbb3b93a33aad",
    "zookeeper-library": "sha256:d38225c08ad4317a79b11ed78acdb7a4943b218e6c02518d629db67c360db900",
    "zookeeper-jplock": "sha256:dd7dab9350ad666f314a5ab1afa4a0c48a6fd137d18cf33532fe9f68c60dce37",
    "zookeeper-mesoscloud": "sha256:6747b010366213e7b0ff3a4252c4b3300798421ac967dbc266ada023b9836ab5",
    "zookeeper-digitalwonderland": "sha256:91c5e836ea8595d33167c9376676580a3effbb34e9c6bc0fe4b4336c5d126126",
    "zookeeper-springxd": "sha256:fd724802182d5237443b590c31b74f15ac4dbda9864f38ef45cb5ee3d43a948e",
    "zookeeper-elevy": "sha256:dcd991a42a4f36ee4062941d982a185d831a388b152445d37249c00c963a8595",
    "zookeeper-debezium": "sha256:2d3a1d2adf9f476eacba0a206137eb0c657b3cc35e4021ef88bd9b7cb278e35d",
    "centos-7": "sha256:55a318a49894aac71e7e272dd4b5eb9716942a8d9b475a3a0e2a349c57a6d017",
    "webapp-1.0": "sha256:0d7860eca1e069f9d4ece0e360ee5efaece1a14c81006b1506d206f6ec4c4d76",
    "webapp-1.1": "sha256:edc816fdf958c31923bfd23a7a315e9fd370f855dd2107ad02c179ad3f8a9351",
    "reports-1.0": "sha256:1cb8ca77ed0185fd46443a64d624f8afa7d7e1474f6df40109a34075b47369c5",
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
