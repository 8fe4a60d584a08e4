"""Tests for labkit.oci: media types, platforms, descriptors, manifests, indexes, configs, chain IDs."""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from labkit import oci
from labkit.digest import Digest
from labkit.errors import LabkitError, NotFound
from labkit.oci import (
    Descriptor, ImageConfig, Index, Manifest, Platform, chain_ids, layer_compression, parse_manifest,
    platform_matches,
)

# --- Real-world bytes (opencontainers/image-spec schema/manifest_backwards_compatibility_test.go),
# each with the digest the image-spec test asserts for those exact bytes.

DOCKERHUB_MANIFEST = b'''{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/octet-stream",
      "size": 3210,
      "digest": "sha256:5359a4f250650c20227055957e353e8f8a74152f35fe36f00b6b1f9fc19c8861"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 2310272,
         "digest": "sha256:fae91920dcd4542f97c9350b3157139a5d901362c2abec284de5ebd1b45b4957"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 913022,
         "digest": "sha256:f384f6ab36adad485192f09379c0b58dc612a3cde82c551e082a7c29a87c95da"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 9861668,
         "digest": "sha256:ed0d2dd5e1a0e5e650a330a864c8a122e9aa91fa6ba9ac6f0bd1882e59df55e7"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 465,
         "digest": "sha256:ec4d00b58417c45f7ddcfde7bcad8c9d62a7d6d5d17cdc1f7d79bcb2e22c1491"
      }
   ]
}'''
DOCKERHUB_MANIFEST_DIGEST = "sha256:888206c77cd2811ec47e752ba291e5b7734e3ef137dfd222daadaca39a9f17bc"

DOCKERHUB_LIST = b'''{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "manifests": [
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v1+json",
         "size": 2094,
         "digest": "sha256:7820f9a86d4ad15a2c4f0c0e5479298df2aa7c2f6871288e2ef8546f3e7b6783",
         "platform": {
            "architecture": "ppc64le",
            "os": "linux"
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v1+json",
         "size": 1922,
         "digest": "sha256:ae1b0e06e8ade3a11267564a26e750585ba2259c0ecab59ab165ad1af41d1bdd",
         "platform": {
            "architecture": "amd64",
            "os": "linux",
            "features": [
               "sse"
            ]
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v1+json",
         "size": 2084,
         "digest": "sha256:e4c0df75810b953d6717b8f8f28298d73870e8aa2a0d5e77b8391f16fdfbbbe2",
         "platform": {
            "architecture": "s390x",
            "os": "linux"
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v1+json",
         "size": 2084,
         "digest": "sha256:07ebe243465ef4a667b78154ae6c3ea46fdb1582936aac3ac899ea311a701b40",
         "platform": {
            "architecture": "arm",
            "os": "linux",
            "variant": "armv7"
         }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v1+json",
         "size": 2090,
         "digest": "sha256:fb2fc0707b86dafa9959fe3d29e66af8787aee4d9a23581714be65db4265ad8a",
         "platform": {
            "architecture": "arm64",
            "os": "linux",
            "variant": "armv8"
         }
      }
   ]
}'''
DOCKERHUB_LIST_DIGEST = "sha256:e588eb8123f2031a41f2e60bc27f30a4388e181e07410aff392f7dc96b585969"

DOCKER_CONFIG = rb'''{"architecture":"amd64","config":{"Hostname":"e5e5b3910a57","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","DOCKER_BUCKET=get.docker.com","DOCKER_VERSION=1.10.3","DOCKER_SHA256=d0df512afa109006a450f41873634951e19ddabf8c7bd419caeb5a526032d86d"],"Cmd":["sh"],"ArgsEscaped":true,"Image":"sha256:bda352ba7ab5823b7dc74b380c5ad1699edee278a6d2ebbe451129b108778742","Volumes":null,"WorkingDir":"","Entrypoint":["docker-entrypoint.sh"],"OnBuild":[],"Labels":{}},"container":"881be788b4387039b52fa195da9fe26f264385aa497ce650cfdcf3806c2d2021","container_config":{"Hostname":"e5e5b3910a57","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","DOCKER_BUCKET=get.docker.com","DOCKER_VERSION=1.10.3","DOCKER_SHA256=d0df512afa109006a450f41873634951e19ddabf8c7bd419caeb5a526032d86d"],"Cmd":["/bin/sh","-c","#(nop) CMD [\"sh\"]"],"ArgsEscaped":true,"Image":"sha256:bda352ba7ab5823b7dc74b380c5ad1699edee278a6d2ebbe451129b108778742","Volumes":null,"WorkingDir":"","Entrypoint":["docker-entrypoint.sh"],"OnBuild":[],"Labels":{}},"created":"2016-06-08T00:52:29.30472774Z","docker_version":"1.10.3","history":[{"created":"2016-06-08T00:48:01.932532048Z","created_by":"/bin/sh -c #(nop) ADD file:bca92e550bd2ce926584aef2032464b6ebf543ce69133b6602c781866165d703 in /"},{"created":"2016-06-08T00:52:10.503417531Z","created_by":"/bin/sh -c apk add --no-cache \t\tca-certificates \t\tcurl \t\topenssl"},{"created":"2016-06-08T00:52:10.700704697Z","created_by":"/bin/sh -c #(nop) ENV DOCKER_BUCKET=get.docker.com","empty_layer":true},{"created":"2016-06-08T00:52:25.746175479Z","created_by":"/bin/sh -c #(nop) ENV DOCKER_VERSION=1.10.3","empty_layer":true},{"created":"2016-06-08T00:52:25.954613633Z","created_by":"/bin/sh -c #(nop) ENV DOCKER_SHA256=d0df512afa109006a450f41873634951e19ddabf8c7bd419caeb5a526032d86d","empty_layer":true},{"created":"2016-06-08T00:52:28.173693898Z","created_by":"/bin/sh -c curl -fSL \"https://${DOCKER_BUCKET}/builds/Linux/x86_64/docker-$DOCKER_VERSION\" -o /usr/local/bin/docker \t\u0026\u0026 echo \"${DOCKER_SHA256}  /usr/local/bin/docker\" | sha256sum -c - \t\u0026\u0026 chmod +x /usr/local/bin/docker"},{"created":"2016-06-08T00:52:28.924486515Z","created_by":"/bin/sh -c #(nop) COPY file:50006c902e7677711aeffe4ab7b7042d649618b96dec760f322a8566dd83ab25 in /usr/local/bin/"},{"created":"2016-06-08T00:52:29.121963047Z","created_by":"/bin/sh -c #(nop) ENTRYPOINT \u0026{[\"docker-entrypoint.sh\"]}","empty_layer":true},{"created":"2016-06-08T00:52:29.30472774Z","created_by":"/bin/sh -c #(nop) CMD [\"sh\"]","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:77f08abee8bf9334407f52d104e1891283018450b3c196118ddfe31505126b87","sha256:707d16737060172b977d5f7eaaddfcfaae1008472193d7e8e5a01111a5f8dd5c","sha256:44da042e7b2458ee0b3877f2321cdf4fd45a49b9b51e00492c2ba68055573eff","sha256:1bc2be83dce13b9bac9476c9c1d2ca6e0db3e07b443f7298fc5a1af75b2cb4ef"]}}'''
DOCKER_CONFIG_DIGEST = "sha256:5359a4f250650c20227055957e353e8f8a74152f35fe36f00b6b1f9fc19c8861"

FEDORA_CONFIG = rb'''{"architecture":"amd64","author":"Patrick Uiterwijk \u003cpatrick@puiterwijk.org\u003e","config":{"Hostname":"8dfe43d80430","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":null,"Image":"sha256:6986ae504bbf843512d680cc959484452034965db15f75ee8bdd1b107f61500b","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"container":"6249cd2c4b1d6b1bf05903364cbcb95781508994d6407c1564d494e748ea1b41","container_config":{"Hostname":"8dfe43d80430","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh","-c","#(nop) ADD file:293a6e463aa402bb8f80eb5cfc937f375cedc6843abaeb9eccfe3923bb3fc80b in /"],"Image":"sha256:6986ae504bbf843512d680cc959484452034965db15f75ee8bdd1b107f61500b","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"created":"2016-06-10T18:44:31.784795904Z","docker_version":"1.10.3","history":[{"created":"2016-06-10T18:44:03.360264073Z","author":"Patrick Uiterwijk \u003cpatrick@puiterwijk.org\u003e","created_by":"/bin/sh -c #(nop) MAINTAINER Patrick Uiterwijk \u003cpatrick@puiterwijk.org\u003e","empty_layer":true},{"created":"2016-06-10T18:44:31.784795904Z","author":"Patrick Uiterwijk \u003cpatrick@puiterwijk.org\u003e","created_by":"/bin/sh -c #(nop) ADD file:293a6e463aa402bb8f80eb5cfc937f375cedc6843abaeb9eccfe3923bb3fc80b in /"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:d43f38155a799dc53d8fbb9f3bc11f51805f4027cd5c3d10b9823201cd5b9400"]}}'''
FEDORA_CONFIG_DIGEST = "sha256:a20665eb1fe2912accb3d5dadaed360430df0d1aa46874875886947d61d3d4ee"

# The example documents of the image-spec (manifest.md, image-index.md, config.md), as written there.
SPEC_MANIFEST = b'''{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "size": 7023,
    "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "size": 32654,
      "digest": "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0"
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "size": 16724,
      "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b"
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "size": 73109,
      "digest": "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736"
    }
  ],
  "annotations": {
    "com.example.key1": "value1",
    "com.example.key2": "value2"
  }
}
'''

# image-index.md's example has no top-level mediaType: the type must be inferred from the shape.
SPEC_INDEX = b'''{
  "schemaVersion": 2,
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "size": 7143,
      "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
      "platform": {
        "architecture": "ppc64le",
        "os": "linux"
      }
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "size": 7682,
      "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
      "platform": {
        "architecture": "amd64",
        "os": "linux"
      }
    }
  ],
  "annotations": {
    "com.example.key1": "value1",
    "com.example.key2": "value2"
  }
}
'''

SPEC_CONFIG = b'''{
    "created": "2015-10-31T22:22:56.015925234Z",
    "author": "Alyssa P. Hacker <alyspdev@example.com>",
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "User": "alice",
        "Memory": 2048,
        "MemorySwap": 4096,
        "CpuShares": 8,
        "ExposedPorts": {
            "8080/tcp": {}
        },
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "FOO=oci_is_a",
            "BAR=well_written_spec"
        ],
        "Entrypoint": [
            "/bin/my-app-binary"
        ],
        "Cmd": [
            "--foreground",
            "--config",
            "/etc/my-app.d/default.cfg"
        ],
        "Volumes": {
            "/var/job-result-data": {},
            "/var/log/my-app-logs": {}
        },
        "WorkingDir": "/home/alice"
    },
    "rootfs": {
      "diff_ids": [
        "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
      ],
      "type": "layers"
    },
    "history": [
      {
        "created": "2015-10-31T22:22:54.690851953Z",
        "created_by": "/bin/sh -c #(nop) ADD file:a3bc1e842b69636f9df5256c49c5374fb4eef1e281fe3f282c65fb853ee171c5 in /"
      },
      {
        "created": "2015-10-31T22:22:55.613815829Z",
        "created_by": "/bin/sh -c #(nop) CMD [\\"sh\\"]",
        "empty_layer": true
      }
    ]
}
'''


def d(ch: str) -> str:
    """Return a fake but valid sha256 digest string made of one repeated hex character."""
    return "sha256:" + ch * 64


def entry(platform: "dict | None", media_type: str = oci.OCI_MANIFEST, digest: str = "", **annotations) -> dict:
    """Return an index entry JSON object."""
    out = {"mediaType": media_type, "digest": digest or d("0"), "size": 100}
    if platform is not None:
        out["platform"] = platform
    if annotations:
        out["annotations"] = {k.replace("_", "."): v for k, v in annotations.items()}
    return out


# The shape Docker Hub serves today for official images built with buildx: an OCI index whose
# attestation manifests carry unknown/unknown and the vnd.docker.reference.* annotations.
def dockerhub_attested_index() -> bytes:
    """Return index bytes shaped like docker.io/library/alpine's (images plus attestations)."""
    att = {"vnd.docker.reference.type": "attestation-manifest"}
    manifests = [
        {"annotations": {"com.docker.official-images.bashbrew.arch": "amd64",
                         "org.opencontainers.image.revision": "abc"},
         "digest": d("1"), "mediaType": oci.OCI_MANIFEST,
         "platform": {"architecture": "amd64", "os": "linux"}, "size": 1022},
        {"annotations": {**att, "vnd.docker.reference.digest": d("1")},
         "digest": d("2"), "mediaType": oci.OCI_MANIFEST,
         "platform": {"architecture": "unknown", "os": "unknown"}, "size": 841},
        {"annotations": {"com.docker.official-images.bashbrew.arch": "arm32v6"},
         "digest": d("3"), "mediaType": oci.OCI_MANIFEST,
         "platform": {"architecture": "arm", "os": "linux", "variant": "v6"}, "size": 1025},
        {"annotations": {"com.docker.official-images.bashbrew.arch": "arm32v7"},
         "digest": d("4"), "mediaType": oci.OCI_MANIFEST,
         "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}, "size": 1025},
        {"annotations": {"com.docker.official-images.bashbrew.arch": "arm64v8"},
         "digest": d("5"), "mediaType": oci.OCI_MANIFEST,
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}, "size": 1025},
        {"annotations": {**att, "vnd.docker.reference.digest": d("5")},
         "digest": d("6"), "mediaType": oci.OCI_MANIFEST,
         "platform": {"architecture": "unknown", "os": "unknown"}, "size": 841},
        {"digest": d("7"), "mediaType": oci.OCI_MANIFEST,
         "platform": {"architecture": "s390x", "os": "linux"}, "size": 1025},
    ]
    return json.dumps({"manifests": manifests, "mediaType": oci.OCI_INDEX, "schemaVersion": 2},
                      indent=2).encode()


# --- media types --------------------------------------------------------------------------------

@pytest.mark.parametrize("media_type, value, expected", [
    ("DOCKER_MANIFEST", oci.DOCKER_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"),
    ("DOCKER_MANIFEST_LIST", oci.DOCKER_MANIFEST_LIST, "application/vnd.docker.distribution.manifest.list.v2+json"),
    ("OCI_MANIFEST", oci.OCI_MANIFEST, "application/vnd.oci.image.manifest.v1+json"),
    ("OCI_INDEX", oci.OCI_INDEX, "application/vnd.oci.image.index.v1+json"),
    ("DOCKER_CONFIG", oci.DOCKER_CONFIG, "application/vnd.docker.container.image.v1+json"),
    ("OCI_CONFIG", oci.OCI_CONFIG, "application/vnd.oci.image.config.v1+json"),
    ("DOCKER_LAYER_GZIP", oci.DOCKER_LAYER_GZIP, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    ("DOCKER_LAYER_FOREIGN_GZIP", oci.DOCKER_LAYER_FOREIGN_GZIP,
     "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"),
    ("OCI_LAYER_TAR", oci.OCI_LAYER_TAR, "application/vnd.oci.image.layer.v1.tar"),
    ("OCI_LAYER_GZIP", oci.OCI_LAYER_GZIP, "application/vnd.oci.image.layer.v1.tar+gzip"),
    ("OCI_LAYER_ZSTD", oci.OCI_LAYER_ZSTD, "application/vnd.oci.image.layer.v1.tar+zstd"),
    ("OCI_LAYER_NONDISTRIBUTABLE_TAR", oci.OCI_LAYER_NONDISTRIBUTABLE_TAR,
     "application/vnd.oci.image.layer.nondistributable.v1.tar"),
    ("OCI_LAYER_NONDISTRIBUTABLE_GZIP", oci.OCI_LAYER_NONDISTRIBUTABLE_GZIP,
     "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"),
    ("OCI_LAYER_NONDISTRIBUTABLE_ZSTD", oci.OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
     "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"),
    ("DOCKER_SCHEMA1", oci.DOCKER_SCHEMA1, "application/vnd.docker.distribution.manifest.v1+json"),
    ("DOCKER_SCHEMA1_SIGNED", oci.DOCKER_SCHEMA1_SIGNED, "application/vnd.docker.distribution.manifest.v1+prettyjws"),
])
def test_media_type_constants(media_type, value, expected):
    assert value == expected, media_type


def test_manifest_accept_holds_the_four_manifest_types():
    assert set(oci.MANIFEST_ACCEPT) == {oci.DOCKER_MANIFEST, oci.DOCKER_MANIFEST_LIST, oci.OCI_MANIFEST, oci.OCI_INDEX}
    assert len(oci.MANIFEST_ACCEPT) == 4
    assert ", ".join(oci.MANIFEST_ACCEPT).count("+json") == 4
    assert oci.INDEX_TYPES == {oci.OCI_INDEX, oci.DOCKER_MANIFEST_LIST}
    assert oci.IMAGE_MANIFEST_TYPES == {oci.OCI_MANIFEST, oci.DOCKER_MANIFEST}


@pytest.mark.parametrize("media_type, expected", [
    (oci.DOCKER_LAYER_GZIP, "gzip"),
    (oci.DOCKER_LAYER_FOREIGN_GZIP, "gzip"),
    (oci.DOCKER_LAYER_TAR, None),
    (oci.OCI_LAYER_TAR, None),
    (oci.OCI_LAYER_GZIP, "gzip"),
    (oci.OCI_LAYER_ZSTD, "zstd"),
    (oci.OCI_LAYER_NONDISTRIBUTABLE_TAR, None),
    (oci.OCI_LAYER_NONDISTRIBUTABLE_GZIP, "gzip"),
    (oci.OCI_LAYER_NONDISTRIBUTABLE_ZSTD, "zstd"),
    ("application/vnd.oci.image.layer.v1.tar+gzip; charset=binary", "gzip"),  # Content-Type parameters
])
def test_layer_compression(media_type, expected):
    assert layer_compression(media_type) == expected


@pytest.mark.parametrize("media_type", [
    oci.OCI_CONFIG, oci.OCI_MANIFEST, "application/octet-stream", "application/vnd.oci.image.layer.v1.tar+bzip2",
    "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "",
])
def test_layer_compression_rejects_non_layers(media_type):
    with pytest.raises(LabkitError, match="unsupported layer media type"):
        layer_compression(media_type)


@pytest.mark.parametrize("media_type, foreign", [
    (oci.DOCKER_LAYER_FOREIGN_GZIP, True), (oci.OCI_LAYER_NONDISTRIBUTABLE_GZIP, True),
    (oci.DOCKER_LAYER_GZIP, False), (oci.OCI_LAYER_ZSTD, False),
])
def test_is_foreign_layer(media_type, foreign):
    assert oci.is_foreign_layer(media_type) is foreign


# --- platforms ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("linux/amd64", Platform("linux", "amd64")),
    ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
    ("linux/arm/v7", Platform("linux", "arm", "v7")),
    ("Linux/AMD64", Platform("linux", "amd64")),
    ("windows/amd64", Platform("windows", "amd64")),
    ("linux/x86_64", Platform("linux", "x86_64")),  # parse keeps what was written; normalized() maps it
    ("arm64", Platform("linux", "arm64")),          # a lone architecture means linux (containerd)
    ("aarch64", Platform("linux", "aarch64")),
])
def test_platform_parse(text, expected):
    assert Platform.parse(text) == expected


@pytest.mark.parametrize("text", [
    "", "/", "linux/", "/amd64", "linux//v7", "linux/amd64/v8/extra", "linux/am d64", "linux/amd64/",
    "banana", "linux\\amd64",
])
def test_platform_parse_rejects(text):
    with pytest.raises(LabkitError, match="invalid platform"):
        Platform.parse(text)


def test_platform_parse_rejects_non_strings():
    with pytest.raises(LabkitError, match="invalid platform"):
        Platform.parse(None)  # type: ignore[arg-type]


def test_platform_parse_lone_os_takes_host_architecture(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert Platform.parse("linux") == Platform("linux", "arm64")


@pytest.mark.parametrize("given_, expected", [
    ("linux/x86_64", "linux/amd64"),
    ("linux/x86-64", "linux/amd64"),
    ("linux/amd64", "linux/amd64"),
    ("linux/amd64/v1", "linux/amd64"),
    ("linux/amd64/v3", "linux/amd64/v3"),
    ("linux/aarch64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64"),
    ("linux/arm64/8", "linux/arm64"),
    ("linux/arm64/v8.0", "linux/arm64"),
    ("linux/arm64/v9.0", "linux/arm64/v9"),
    ("linux/arm64/v8.2", "linux/arm64/v8.2"),
    ("linux/armhf", "linux/arm/v7"),
    ("linux/armel", "linux/arm/v6"),
    ("linux/arm", "linux/arm/v7"),
    ("linux/arm/7", "linux/arm/v7"),
    ("linux/arm/6", "linux/arm/v6"),
    ("linux/arm/v5", "linux/arm/v5"),
    ("linux/arm/8", "linux/arm/v8"),
    ("linux/i386", "linux/386"),
    ("linux/386", "linux/386"),
    ("macos/arm64", "darwin/arm64"),
    ("LINUX/PPC64LE", "linux/ppc64le"),
    ("linux/s390x", "linux/s390x"),
    ("linux/riscv64", "linux/riscv64"),
])
def test_platform_normalization(given_, expected):
    assert str(Platform.parse(given_).normalized()) == expected


@given(st.sampled_from(["linux", "windows", "macos", "darwin", "freebsd"]),
       st.sampled_from(["amd64", "x86_64", "x86-64", "i386", "386", "aarch64", "arm64", "arm", "armhf", "armel",
                        "ppc64le", "s390x", "riscv64"]),
       st.sampled_from(["", "v1", "v2", "v5", "v6", "v7", "v8", "8", "7", "v8.0", "v9.0", "v8.2"]))
def test_platform_normalization_is_idempotent(os_name, arch, variant):
    once = Platform(os_name, arch, variant).normalized()
    assert once.normalized() == once


@pytest.mark.parametrize("machine, expected", [
    ("x86_64", "linux/amd64"), ("AMD64", "linux/amd64"), ("aarch64", "linux/arm64"), ("arm64", "linux/arm64"),
    ("armv7l", "linux/arm/v7"), ("armv6l", "linux/arm/v6"), ("i686", "linux/386"), ("ppc64le", "linux/ppc64le"),
    ("s390x", "linux/s390x"), ("riscv64", "linux/riscv64"),
])
def test_platform_host(monkeypatch, machine, expected):
    monkeypatch.setattr(platform, "machine", lambda: machine)
    assert str(Platform.host()) == expected


def test_platform_host_is_a_linux_platform_of_this_machine():
    host = Platform.host()
    assert host.os == "linux"
    assert host == host.normalized()


@pytest.mark.parametrize("text", ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "windows/amd64"])
def test_platform_str_round_trips(text):
    assert str(Platform.parse(text)) == text


@pytest.mark.parametrize("data, expected", [
    ({"architecture": "amd64", "os": "linux"}, Platform("linux", "amd64")),
    ({"architecture": "arm64", "os": "linux", "variant": "v8"}, Platform("linux", "arm64", "v8")),
    ({"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.5830", "os.features": ["win32k"]},
     Platform("windows", "amd64", "", "10.0.17763.5830", ("win32k",))),
    # Docker's old manifest lists carry a reserved "features" key: ignored.
    ({"architecture": "amd64", "os": "linux", "features": ["sse"]}, Platform("linux", "amd64")),
])
def test_platform_from_json(data, expected):
    assert Platform.from_json(data) == expected


@pytest.mark.parametrize("data", [
    None, [], {"os": "linux"}, {"architecture": "amd64"}, {"os": 1, "architecture": "amd64"},
    {"os": "linux", "architecture": "amd64", "variant": 7},
    {"os": "linux", "architecture": "amd64", "os.features": "x"},
])
def test_platform_from_json_rejects(data):
    with pytest.raises(LabkitError, match="invalid platform"):
        Platform.from_json(data)


def test_platform_to_json_uses_oci_keys_and_round_trips():
    p = Platform("windows", "amd64", "v2", "10.0.14393.1066", ("win32k",))
    assert p.to_json() == {"architecture": "amd64", "os": "windows", "os.version": "10.0.14393.1066",
                           "os.features": ["win32k"], "variant": "v2"}
    assert Platform.from_json(p.to_json()) == p
    assert Platform("linux", "amd64").to_json() == {"architecture": "amd64", "os": "linux"}


@given(st.builds(Platform, st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True),
                 st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True),
                 st.from_regex(r"(v[0-9]{1,2})?", fullmatch=True),
                 st.from_regex(r"([0-9.]{1,10})?", fullmatch=True),
                 st.lists(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True), max_size=2).map(tuple)))
def test_platform_json_round_trip_property(p):
    assert Platform.from_json(json.loads(json.dumps(p.to_json()))) == p


AMD64 = {"os": "linux", "architecture": "amd64"}


@pytest.mark.parametrize("wanted, candidate, expected", [
    ("linux/amd64", None, True),                                   # no platform: matches anything
    ("linux/arm/v5", None, True),
    ("linux/amd64", AMD64, True),
    ("linux/x86_64", AMD64, True),
    ("linux/amd64", {"os": "linux", "architecture": "x86_64"}, True),
    ("linux/amd64", {"os": "linux", "architecture": "arm64"}, False),
    ("linux/amd64", {"os": "windows", "architecture": "amd64"}, False),
    ("linux/amd64", {"os": "unknown", "architecture": "unknown"}, False),   # attestation manifests
    ("unknown/unknown", {"os": "unknown", "architecture": "unknown"}, False),  # ... never, even when asked
    ("linux/unknown", {"os": "linux", "architecture": "unknown"}, False),
    ("linux/arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"}, True),
    ("linux/arm64/v8", {"os": "linux", "architecture": "arm64"}, True),
    ("linux/arm64/v8", {"os": "linux", "architecture": "arm64", "variant": "v8"}, True),
    ("linux/aarch64", {"os": "linux", "architecture": "arm64", "variant": "v8"}, True),
    ("linux/arm64", {"os": "linux", "architecture": "arm64", "variant": "v9"}, False),
    ("linux/arm/v7", {"os": "linux", "architecture": "arm", "variant": "v7"}, True),
    ("linux/arm/v7", {"os": "linux", "architecture": "arm"}, True),           # arm defaults to v7
    ("linux/arm", {"os": "linux", "architecture": "arm", "variant": "v7"}, True),
    ("linux/armhf", {"os": "linux", "architecture": "arm", "variant": "v7"}, True),
    ("linux/arm/v7", {"os": "linux", "architecture": "arm", "variant": "v6"}, False),  # no fallback to v6
    ("linux/arm/v6", {"os": "linux", "architecture": "arm", "variant": "v7"}, False),
    ("linux/armel", {"os": "linux", "architecture": "arm", "variant": "v6"}, True),
    ("linux/arm/v7", {"os": "linux", "architecture": "arm", "variant": "armv7"}, False),  # non-standard variant
    ("linux/arm64", {"os": "linux", "architecture": "arm", "variant": "v8"}, False),
    ("linux/amd64", {"os": "linux", "architecture": "386"}, False),                # no amd64 -> 386 fallback
    ("linux/386", {"os": "linux", "architecture": "i386"}, True),
    ("darwin/arm64", {"os": "macos", "architecture": "aarch64"}, True),
])
def test_platform_matches(wanted, candidate, expected):
    cand = Platform.from_json(candidate) if candidate is not None else None
    assert platform_matches(Platform.parse(wanted), cand) is expected
    assert platform_matches(wanted, cand) is expected  # a string is parsed


# --- descriptors ----------------------------------------------------------------------------------

def test_descriptor_json_round_trip():
    data = {"mediaType": oci.OCI_LAYER_NONDISTRIBUTABLE_GZIP, "digest": d("a"), "size": 123,
            "urls": ["https://example.com/layer"], "annotations": {"b": "2", "a": "1"},
            "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
            "artifactType": "application/vnd.example"}
    desc = Descriptor.from_json(data)
    assert desc.digest == Digest.parse(d("a"))
    assert desc.platform == Platform("linux", "arm64", "v8")
    assert desc.annotations == {"a": "1", "b": "2"}
    assert desc.urls == ("https://example.com/layer",)
    assert desc.to_json() == data
    assert list(desc.to_json()) == ["mediaType", "digest", "size", "urls", "annotations", "platform", "artifactType"]
    assert list(desc.to_json()["annotations"]) == ["a", "b"]  # sorted, like Go's encoding of a map


def test_descriptor_is_hashable_and_frozen():
    desc = Descriptor(oci.OCI_LAYER_GZIP, d("a"), 1, annotations={"k": "v"})
    assert isinstance(desc.digest, Digest)
    assert desc in {desc}
    with pytest.raises(TypeError):
        desc.annotations["k"] = "w"  # type: ignore[index]
    assert json.dumps(desc.annotations) == '{"k": "v"}'


@pytest.mark.parametrize("data, message", [
    ([], "expected a JSON object"),
    ({"digest": d("a"), "size": 1}, "mediaType"),
    ({"mediaType": oci.OCI_LAYER_GZIP, "digest": "sha256:abc", "size": 1}, "invalid digest"),
    ({"mediaType": oci.OCI_LAYER_GZIP, "digest": d("a"), "size": -1}, "size"),
    ({"mediaType": oci.OCI_LAYER_GZIP, "digest": d("a"), "size": "1"}, "size"),
    ({"mediaType": oci.OCI_LAYER_GZIP, "digest": d("a"), "size": True}, "size"),
    ({"mediaType": oci.OCI_LAYER_GZIP, "digest": d("a"), "size": 1, "urls": "x"}, "urls"),
    ({"mediaType": oci.OCI_LAYER_GZIP, "digest": d("a"), "size": 1, "annotations": {"a": 1}}, "annotations"),
    ({"mediaType": oci.OCI_LAYER_GZIP, "digest": d("a"), "size": 1, "platform": {"os": "linux"}}, "platform"),
])
def test_descriptor_rejects(data, message):
    with pytest.raises(LabkitError, match=message):
        Descriptor.from_json(data)


# --- manifests ------------------------------------------------------------------------------------

def test_dockerhub_manifest_digest_is_sha256_of_exact_bytes():
    m = Manifest.from_bytes(DOCKERHUB_MANIFEST)
    assert str(m.digest) == DOCKERHUB_MANIFEST_DIGEST
    assert m.raw == DOCKERHUB_MANIFEST
    assert m.media_type == oci.DOCKER_MANIFEST and m.is_docker
    assert m.config.media_type == "application/octet-stream"  # what docker 1.10 pushed
    assert m.config.digest == Digest.parse(DOCKER_CONFIG_DIGEST)
    assert [layer.size for layer in m.layers] == [2310272, 913022, 9861668, 465]
    assert {layer_compression(layer.media_type) for layer in m.layers} == {"gzip"}
    assert m.descriptor() == Descriptor(oci.DOCKER_MANIFEST, Digest.parse(DOCKERHUB_MANIFEST_DIGEST),
                                        len(DOCKERHUB_MANIFEST))
    assert m.blobs() == [m.config, *m.layers]
    assert m.layers_size == 2310272 + 913022 + 9861668 + 465


def test_whitespace_changes_the_digest():
    compact = json.dumps(json.loads(DOCKERHUB_MANIFEST), separators=(",", ":")).encode()
    a, b = Manifest.from_bytes(DOCKERHUB_MANIFEST), Manifest.from_bytes(compact)
    assert a.layers == b.layers
    assert a.digest != b.digest
    assert b.digest == Digest("sha256", hashlib.sha256(compact).hexdigest())
    with_newline = Manifest.from_bytes(DOCKERHUB_MANIFEST + b"\n")
    assert with_newline.digest == Digest("sha256", hashlib.sha256(DOCKERHUB_MANIFEST + b"\n").hexdigest())
    assert with_newline.digest != a.digest
    assert a != with_newline  # equality follows the bytes


def test_spec_example_manifest():
    m = Manifest.from_bytes(SPEC_MANIFEST)
    assert m.media_type == oci.OCI_MANIFEST
    assert m.config == Descriptor(oci.OCI_CONFIG, "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7", 7023)
    assert len(m.layers) == 3
    assert m.annotations == {"com.example.key1": "value1", "com.example.key2": "value2"}
    assert m.digest == Digest.of(SPEC_MANIFEST)
    assert m.size == len(SPEC_MANIFEST)


def test_manifest_without_media_type_is_inferred_as_oci():
    doc = json.loads(SPEC_MANIFEST)
    del doc["mediaType"]
    raw = json.dumps(doc).encode()
    assert Manifest.from_bytes(raw).media_type == oci.OCI_MANIFEST
    # ... or taken from the Content-Type / descriptor when the caller knows it
    assert Manifest.from_bytes(raw, oci.DOCKER_MANIFEST).media_type == oci.DOCKER_MANIFEST


def test_content_type_parameters_and_generic_types_are_tolerated():
    assert Manifest.from_bytes(SPEC_MANIFEST, oci.OCI_MANIFEST + "; charset=utf-8").media_type == oci.OCI_MANIFEST
    assert Manifest.from_bytes(SPEC_MANIFEST, "application/json").media_type == oci.OCI_MANIFEST
    assert Manifest.from_bytes(SPEC_MANIFEST, "application/octet-stream").media_type == oci.OCI_MANIFEST
    # Docker vs OCI flavour disagreeing between descriptor and content: the content's mediaType wins.
    assert Manifest.from_bytes(SPEC_MANIFEST, oci.DOCKER_MANIFEST).media_type == oci.OCI_MANIFEST


SCHEMA1 = json.dumps({"schemaVersion": 1, "name": "library/debian", "tag": "jessie", "architecture": "amd64",
                      "fsLayers": [{"blobSum": d("a")}], "history": [{"v1Compatibility": "{}"}]}).encode()


@pytest.mark.parametrize("raw, media_type", [
    (SCHEMA1, None),
    (SCHEMA1, oci.DOCKER_SCHEMA1_SIGNED),
    (SCHEMA1, "application/json"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v1+prettyjws"}', None),
    (b'{"schemaVersion": 2, "config": {}, "layers": []}', oci.DOCKER_SCHEMA1),
])
def test_schema1_is_refused_with_a_clear_message(raw, media_type):
    for parse in (parse_manifest, Manifest.from_bytes, Index.from_bytes):
        with pytest.raises(LabkitError, match=r"^deprecated manifest format \(schema 1\) is not supported; "):
            parse(raw, media_type)


@pytest.mark.parametrize("raw, media_type, message", [
    (b"not json", None, "invalid JSON"),
    (b"\xff\xfe{}", None, "not UTF-8"),
    (b"[1, 2]", None, "expected a JSON object"),
    (b'{"schemaVersion": 3, "config": {}, "layers": []}', None, "schemaVersion must be 2"),
    (b'{"schemaVersion": "2", "manifests": []}', None, "schemaVersion must be 2"),
    (b'{"schemaVersion": true, "manifests": []}', None, "schemaVersion must be 2"),
    (b'{"config": {}, "layers": []}', None, "schemaVersion must be 2"),
    (b'{"schemaVersion": 2}', None, "neither an image manifest"),
    (b'{"schemaVersion": 2, "config": {}}', None, "neither an image manifest"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.artifact.manifest.v1+json", "blobs": []}', None,
     "unsupported media type"),
    (b'{"schemaVersion": 2, "mediaType": 5}', None, "mediaType"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}', None,
     "'config' must be a descriptor"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": '
     b'{"mediaType": "a/b", "digest": "sha256:00", "size": 1}, "layers": []}', None, "invalid digest"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": '
     b'{"mediaType": "a/b", "digest": "' + d("a").encode() + b'", "size": 1}, "layers": {}}', None, "'layers'"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": '
     b'{"mediaType": "a/b", "digest": "' + d("a").encode() + b'", "size": 1}, "layers": [], "manifests": []}', None,
     "has 'manifests'"),
    (b'{"schemaVersion": 2, "schemaVersion": 2, "manifests": []}', None, "duplicate key"),
    (SPEC_MANIFEST, oci.OCI_INDEX, "served as"),  # Content-Type says index, the content says manifest
    (SPEC_INDEX.replace(b'"manifests"', b'"mediaType": "application/vnd.oci.image.index.v1+json", "manifests"', 1),
     oci.DOCKER_MANIFEST, "served as"),
])
def test_manifest_parse_errors(raw, media_type, message):
    with pytest.raises(LabkitError, match=message):
        parse_manifest(raw, media_type)


def test_parse_error_names_the_content_digest():
    raw = b'{"schemaVersion": 2}'
    with pytest.raises(LabkitError) as info:
        Manifest.from_bytes(raw)
    assert f"sha256:{Digest.of(raw).short}" in str(info.value)


def test_manifest_from_bytes_refuses_an_index_and_vice_versa():
    with pytest.raises(LabkitError, match="expected an image manifest, got an index"):
        Manifest.from_bytes(SPEC_INDEX)
    with pytest.raises(LabkitError, match="expected an index, got an image manifest"):
        Index.from_bytes(SPEC_MANIFEST)


def test_parse_manifest_dispatches():
    assert isinstance(parse_manifest(SPEC_MANIFEST), Manifest)
    assert isinstance(parse_manifest(SPEC_INDEX), Index)
    assert isinstance(parse_manifest(DOCKERHUB_LIST), Index)
    assert isinstance(parse_manifest(DOCKERHUB_MANIFEST), Manifest)


def test_manifest_build_round_trip_and_stable_digest():
    config = Descriptor(oci.OCI_CONFIG, d("c"), 321)
    layers = [Descriptor(oci.OCI_LAYER_GZIP, d("1"), 10), Descriptor(oci.OCI_LAYER_ZSTD, d("2"), 20)]
    m = Manifest.build(config, layers, annotations={"z": "1", "a": "2"})
    again = Manifest.build(config, list(layers), annotations={"a": "2", "z": "1"})
    assert m.raw == again.raw and m.digest == again.digest
    assert b" " not in m.raw  # compact separators
    parsed = Manifest.from_bytes(m.raw)
    assert parsed == m
    assert (parsed.media_type, parsed.config, parsed.layers) == (oci.OCI_MANIFEST, config, tuple(layers))
    assert list(json.loads(m.raw)) == ["schemaVersion", "mediaType", "config", "layers", "annotations"]
    docker = Manifest.build(config, layers, media_type=oci.DOCKER_MANIFEST)
    assert docker.media_type == oci.DOCKER_MANIFEST and docker.digest != m.digest


def test_manifest_build_refuses_an_index_type():
    with pytest.raises(LabkitError, match="build manifest"):
        Manifest.build(Descriptor(oci.OCI_CONFIG, d("c"), 1), [], media_type=oci.OCI_INDEX)


def test_manifest_with_subject_and_artifact_type():
    subject = Descriptor(oci.OCI_MANIFEST, d("9"), 99)
    m = Manifest.build(Descriptor(oci.OCI_EMPTY, d("e"), 2), [], subject=subject,
                       artifact_type="application/vnd.example.sbom")
    parsed = Manifest.from_bytes(m.raw)
    assert parsed.subject == subject and parsed.artifact_type == "application/vnd.example.sbom"
    assert parsed.descriptor().artifact_type == "application/vnd.example.sbom"


# --- indexes --------------------------------------------------------------------------------------

def test_dockerhub_manifest_list_digest_and_entries():
    idx = Index.from_bytes(DOCKERHUB_LIST)
    assert str(idx.digest) == DOCKERHUB_LIST_DIGEST
    assert idx.media_type == oci.DOCKER_MANIFEST_LIST
    assert [str(m.platform) for m in idx.manifests] == [
        "linux/ppc64le", "linux/amd64", "linux/s390x", "linux/arm/armv7", "linux/arm64/armv8"]
    # Its entries are schema 1 manifests: select finds them, fetching one then reports the deprecation.
    assert idx.select("linux/amd64").digest == Digest.parse(
        "sha256:ae1b0e06e8ade3a11267564a26e750585ba2259c0ecab59ab165ad1af41d1bdd")


def test_spec_index_without_media_type_is_inferred():
    idx = Index.from_bytes(SPEC_INDEX)
    assert idx.media_type == oci.OCI_INDEX
    assert idx.annotations["com.example.key1"] == "value1"
    assert idx.select(Platform("linux", "ppc64le")).size == 7143
    assert idx.digest == Digest.of(SPEC_INDEX)


@pytest.mark.parametrize("wanted, digest", [
    ("linux/amd64", d("1")),
    ("linux/x86_64", d("1")),
    ("linux/arm/v6", d("3")),
    ("linux/arm/v7", d("4")),
    ("linux/arm", d("4")),
    ("linux/arm64", d("5")),
    ("linux/arm64/v8", d("5")),
    ("linux/aarch64", d("5")),
    ("linux/s390x", d("7")),
])
def test_index_select_dockerhub_shape(wanted, digest):
    idx = Index.from_bytes(dockerhub_attested_index())
    assert str(idx.select(wanted).digest) == digest


def test_index_select_not_found_names_wanted_and_offered():
    idx = Index.from_bytes(dockerhub_attested_index())
    with pytest.raises(NotFound) as info:
        idx.select("linux/riscv64")
    message = str(info.value)
    assert "linux/riscv64" in message
    assert "linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/s390x" in message
    assert "unknown" not in message  # attestations are not offered images


def test_index_never_selects_attestations():
    idx = Index.from_bytes(dockerhub_attested_index())
    with pytest.raises(NotFound):
        idx.select("unknown/unknown")
    assert [str(x.digest) for x in idx.images()] == [d("1"), d("3"), d("4"), d("5"), d("7")]
    assert [x.is_attestation for x in idx.manifests] == [False, True, False, False, False, True, False]


def test_index_attestation_annotation_alone_is_enough_to_skip():
    raw = Index.build([Descriptor.from_json(entry(AMD64, digest=d("a"),
                                                  vnd_docker_reference_type="attestation-manifest")),
                       Descriptor.from_json(entry(AMD64, digest=d("b")))]).raw
    assert str(Index.from_bytes(raw).select("linux/amd64").digest) == d("b")


@pytest.mark.parametrize("entries, wanted, expected", [
    # an entry without a platform matches any request
    ([entry(None, digest=d("a"))], "linux/arm64", d("a")),
    # the first match wins, in index order
    ([entry(AMD64, digest=d("a")), entry(AMD64, digest=d("b"))], "linux/amd64", d("a")),
    # unknown media types MUST be ignored (image-index.md), even with a matching platform
    ([entry(AMD64, media_type="application/vnd.example.thing", digest=d("a")), entry(AMD64, digest=d("b"))],
     "linux/amd64", d("b")),
    # nested indexes are returned for the caller to follow
    ([entry(AMD64, media_type=oci.OCI_INDEX, digest=d("a"))], "linux/amd64", d("a")),
    ([entry(None, media_type=oci.DOCKER_MANIFEST_LIST, digest=d("a"))], "linux/amd64", d("a")),
    # docker manifests in an OCI index are fine
    ([entry({"os": "linux", "architecture": "arm", "variant": "v7"}, media_type=oci.DOCKER_MANIFEST,
            digest=d("a"))], "linux/armhf", d("a")),
    # strict variants: arm/v7 does not fall back to v6
    ([entry({"os": "linux", "architecture": "arm", "variant": "v6"}, digest=d("a")),
      entry({"os": "linux", "architecture": "arm", "variant": "v7"}, digest=d("b"))], "linux/arm/v7", d("b")),
])
def test_index_select_rules(entries, wanted, expected):
    raw = json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": entries}).encode()
    assert str(Index.from_bytes(raw).select(wanted).digest) == expected


def test_index_select_defaults_to_host(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert str(Index.from_bytes(dockerhub_attested_index()).select().digest) == d("5")


def test_index_select_empty_index():
    idx = Index.build([])
    with pytest.raises(NotFound, match=r"offered: none"):
        idx.select("linux/amd64")


def test_index_build_round_trip():
    descs = [Descriptor(oci.OCI_MANIFEST, d("1"), 10, Platform("linux", "amd64")),
             Descriptor(oci.OCI_MANIFEST, d("2"), 11, Platform("linux", "arm64", "v8"),
                        annotations={"org.opencontainers.image.ref.name": "v1"})]
    idx = Index.build(descs, annotations={"k": "v"})
    assert Index.from_bytes(idx.raw) == idx
    assert Index.from_bytes(idx.raw).manifests == tuple(descs)
    assert Index.build(descs, annotations={"k": "v"}).raw == idx.raw
    assert idx.descriptor() == Descriptor(oci.OCI_INDEX, idx.digest, len(idx.raw))
    lst = Index.build(descs, media_type=oci.DOCKER_MANIFEST_LIST)
    assert Index.from_bytes(lst.raw).media_type == oci.DOCKER_MANIFEST_LIST
    with pytest.raises(LabkitError, match="build index"):
        Index.build(descs, media_type=oci.OCI_MANIFEST)


def test_index_declared_but_shaped_like_a_manifest_is_refused():
    raw = json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [],
                      "config": {"mediaType": oci.OCI_CONFIG, "digest": d("a"), "size": 1}}).encode()
    with pytest.raises(LabkitError, match="declared as an index"):
        Index.from_bytes(raw)


# --- image configs --------------------------------------------------------------------------------

def test_docker_hub_config():
    cfg = ImageConfig.from_bytes(DOCKER_CONFIG)
    assert str(cfg.digest) == DOCKER_CONFIG_DIGEST
    assert cfg.image_id == cfg.digest
    assert (cfg.architecture, cfg.os, cfg.variant) == ("amd64", "linux", "")
    assert cfg.created == datetime(2016, 6, 8, 0, 52, 29, 304727, tzinfo=timezone.utc)
    assert cfg.cmd == ["sh"] and cfg.entrypoint == ["docker-entrypoint.sh"]
    assert "DOCKER_VERSION=1.10.3" in cfg.env
    assert cfg.working_dir == "" and cfg.labels == {} and cfg.user == ""
    assert len(cfg.diff_ids) == 4 and all(isinstance(x, Digest) for x in cfg.diff_ids)
    assert cfg.data["docker_version"] == "1.10.3"
    items = cfg.layer_history()
    assert len(items) == 9
    assert [i.empty_layer for i in items] == [False, False, True, True, True, False, False, True, True]
    assert [i.diff_id for i in items if not i.empty_layer] == list(cfg.diff_ids)
    assert [i.index for i in items] == [0, 1, -1, -1, -1, 2, 3, -1, -1]
    assert items[-1].created_by == '/bin/sh -c #(nop) CMD ["sh"]'


def test_fedora_config_with_null_cmd_and_author():
    cfg = ImageConfig.from_bytes(FEDORA_CONFIG)
    assert str(cfg.digest) == FEDORA_CONFIG_DIGEST
    assert cfg.author == "Patrick Uiterwijk <patrick@puiterwijk.org>"
    assert cfg.cmd is None and cfg.entrypoint is None
    assert [i.diff_id for i in cfg.layer_history()] == [None, cfg.diff_ids[0]]


def test_spec_example_config():
    cfg = ImageConfig.from_bytes(SPEC_CONFIG)
    assert cfg.digest == Digest.of(SPEC_CONFIG)
    assert cfg.created == datetime(2015, 10, 31, 22, 22, 56, 15925, tzinfo=timezone.utc)
    assert cfg.author == "Alyssa P. Hacker <alyspdev@example.com>"
    assert cfg.user == "alice" and cfg.working_dir == "/home/alice"
    assert cfg.exposed_ports == ["8080/tcp"]
    assert cfg.config["Memory"] == 2048
    assert cfg.platform == Platform("linux", "amd64")
    assert [str(x) for x in cfg.diff_ids] == [
        "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]
    # Two layers, one non-empty history entry: the second layer gets an empty placeholder entry.
    items = cfg.layer_history()
    assert [(i.diff_id is None, i.index) for i in items] == [(False, 0), (True, -1), (False, 1)]
    assert items[2].entry == {}


@pytest.mark.parametrize("doc, message", [
    ({"os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}, "architecture"),
    ({"architecture": "amd64", "os": "linux"}, "rootfs"),
    ({"architecture": "amd64", "os": "linux", "rootfs": {"type": "snapshot", "diff_ids": []}}, "rootfs.type"),
    ({"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": []}}, "rootfs.type"),
    ({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["md5:00"]}},
     "diff_ids"),
    ({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": "x"}}, "diff_ids"),
    ({"architecture": "amd64", "os": "linux", "created": "yesterday",
      "rootfs": {"type": "layers", "diff_ids": []}}, "created"),
    ({"architecture": "amd64", "os": "linux", "config": [], "rootfs": {"type": "layers", "diff_ids": []}},
     "'config'"),
    ({"architecture": "amd64", "os": "linux", "history": {}, "rootfs": {"type": "layers", "diff_ids": []}},
     "history"),
])
def test_config_parse_errors(doc, message):
    with pytest.raises(LabkitError, match=message):
        ImageConfig.from_bytes(json.dumps(doc).encode())


def test_config_null_fields_are_absent():
    raw = json.dumps({"architecture": "amd64", "os": "linux", "created": None, "author": None, "config": None,
                      "history": None, "rootfs": {"type": "layers", "diff_ids": None}}).encode()
    cfg = ImageConfig.from_bytes(raw)
    assert (cfg.created, cfg.author, cfg.config, cfg.diff_ids, cfg.history) == (None, "", {}, (), ())


def test_config_too_many_history_entries_is_an_error():
    raw = json.dumps({"architecture": "amd64", "os": "linux", "history": [{}, {}],
                      "rootfs": {"type": "layers", "diff_ids": [d("a")]}}).encode()
    cfg = ImageConfig.from_bytes(raw)
    with pytest.raises(LabkitError, match="more non-empty entries"):
        cfg.layer_history()


def test_config_build_round_trip():
    created = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    raw = ImageConfig.build(
        diff_ids=[d("1"), Digest.parse(d("2"))], platform="linux/arm64/v8", created=created, author="lab",
        config={"Env": ["PATH=/bin"], "Labels": {"b": "2", "a": "1"}}, cmd=["sh"], working_dir="/root",
        exposed_ports=["80/tcp"],
        history=[{"created": created, "created_by": "ADD rootfs"},
                 {"created": created, "created_by": "ENV X=1", "empty_layer": True},
                 {"created": created, "created_by": "RUN true", "comment": "c"}])
    assert isinstance(raw, bytes)
    assert raw == ImageConfig.build(
        diff_ids=[d("1"), d("2")], platform="linux/arm64/v8", created="2024-01-02T03:04:05Z", author="lab",
        config={"Labels": {"a": "1", "b": "2"}, "Env": ["PATH=/bin"]}, cmd=["sh"], working_dir="/root",
        exposed_ports={"80/tcp": {}},
        history=[{"created_by": "ADD rootfs", "created": created},
                 {"empty_layer": True, "created_by": "ENV X=1", "created": created},
                 {"comment": "c", "created_by": "RUN true", "created": created}])
    cfg = ImageConfig.from_bytes(raw)
    assert cfg.raw == raw and cfg.digest == Digest.of(raw)
    assert cfg.platform == Platform("linux", "arm64", "v8")
    assert cfg.created == created and cfg.author == "lab"
    assert cfg.cmd == ["sh"] and cfg.working_dir == "/root" and cfg.env == ["PATH=/bin"]
    assert cfg.labels == {"a": "1", "b": "2"} and cfg.exposed_ports == ["80/tcp"]
    assert [str(x) for x in cfg.diff_ids] == [d("1"), d("2")]
    assert [i.index for i in cfg.layer_history()] == [0, -1, 1]
    doc = json.loads(raw)
    assert list(doc) == ["created", "author", "architecture", "os", "variant", "config", "rootfs", "history"]
    assert list(doc["config"]) == ["ExposedPorts", "Env", "Cmd", "WorkingDir", "Labels"]
    assert doc["rootfs"] == {"type": "layers", "diff_ids": [d("1"), d("2")]}
    assert b", " not in raw and b": " not in raw


def test_config_build_uses_build_time(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = ImageConfig.build(diff_ids=[d("1")], platform="linux/amd64")
    b = ImageConfig.build(diff_ids=[d("1")], platform="linux/amd64")
    assert a == b
    assert ImageConfig.from_bytes(a).created == datetime.fromtimestamp(1700000000, tz=timezone.utc)


def test_config_build_explicit_architecture_does_not_borrow_host_variant(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "armv7l")
    cfg = ImageConfig.create(architecture="amd64", created="2020-01-01T00:00:00Z")
    assert cfg.platform == Platform("linux", "amd64")
    assert ImageConfig.create(created="2020-01-01T00:00:00Z").platform == Platform("linux", "arm", "v7")


@pytest.mark.parametrize("kwargs, message", [
    ({"bogus": 1}, "unknown field"),
    ({"cmd": "echo hi"}, "exec form"),
    ({"history": [{"created_by": "a"}, {"created_by": "b"}], "diff_ids": [d("1")]}, "non-empty history"),
    ({"created": 5}, "a time must be"),
])
def test_config_build_errors(kwargs, message):
    with pytest.raises(LabkitError, match=message):
        ImageConfig.build(platform="linux/amd64", **kwargs)


def test_config_derive_adds_a_layer_and_history():
    base = ImageConfig.create(diff_ids=[d("1")], platform="linux/amd64", created="2020-01-01T00:00:00Z",
                              cmd=["sh"], history=[{"created_by": "ADD rootfs"}])
    when = datetime(2021, 5, 6, tzinfo=timezone.utc)
    child = ImageConfig.from_bytes(base.derive(diff_ids=[d("2")], created_by="labkit commit", created=when,
                                               config={"Env": ["A=1"]}))
    assert [str(x) for x in child.diff_ids] == [d("1"), d("2")]
    assert child.cmd == ["sh"] and child.env == ["A=1"]
    assert child.created == when
    items = child.layer_history()
    assert [(i.created_by, str(i.diff_id)) for i in items] == [("ADD rootfs", d("1")), ("labkit commit", d("2"))]
    # A change with no files records an empty_layer step.
    meta = ImageConfig.from_bytes(base.derive(created_by="LABEL x=y", created=when, config={"Labels": {"x": "y"}}))
    assert meta.diff_ids == base.diff_ids and meta.labels == {"x": "y"}
    assert meta.layer_history()[-1].empty_layer


def test_config_derive_keeps_layers_without_history_aligned():
    raw = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [d("1"), d("2")]}}).encode()
    child = ImageConfig.from_bytes(ImageConfig.from_bytes(raw).derive(
        diff_ids=[d("3")], created_by="commit", created="2020-01-01T00:00:00Z"))
    assert [(i.created_by, str(i.diff_id)) for i in child.layer_history()] == [
        ("", d("1")), ("", d("2")), ("commit", d("3"))]


@given(st.lists(st.sampled_from("0123456789abcdef"), max_size=5),
       st.lists(st.from_regex(r"[A-Za-z0-9 /._-]{0,20}", fullmatch=True), max_size=3),
       st.dictionaries(st.from_regex(r"[a-z.]{1,10}", fullmatch=True), st.text(max_size=10), max_size=3))
def test_config_build_round_trip_property(ids, cmd, labels):
    diff_ids = [d(c) for c in ids]
    raw = ImageConfig.build(diff_ids=diff_ids, platform="linux/amd64", created="2020-01-01T00:00:00Z",
                            cmd=cmd, labels=labels)
    cfg = ImageConfig.from_bytes(raw)
    assert [str(x) for x in cfg.diff_ids] == diff_ids
    assert cfg.cmd == cmd and cfg.labels == labels
    assert ImageConfig.build(diff_ids=diff_ids, platform="linux/amd64", created="2020-01-01T00:00:00Z",
                             cmd=cmd, labels=dict(reversed(list(labels.items())))) == raw


# --- chain IDs (config.md#layer-chainid) ----------------------------------------------------------

def sha256_text(text: str) -> str:
    """Return "sha256:" + the hex sha256 of `text` (the image-spec's Digest() over a string)."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_chain_ids_follow_the_spec_expansion():
    # config.md: ChainID(A|B|C) = Digest(Digest(DiffID(A) + " " + DiffID(B)) + " " + DiffID(C))
    a, b, c = (str(x) for x in ImageConfig.from_bytes(DOCKER_CONFIG).diff_ids[:3])
    ids = chain_ids([a, b, c])
    assert [str(x) for x in ids] == [a, sha256_text(f"{a} {b}"), sha256_text(f"{sha256_text(f'{a} {b}')} {c}")]
    assert oci.chain_id([a, b, c]) == ids[-1]


def test_chain_ids_examples():
    assert chain_ids([]) == [] and oci.chain_id([]) is None
    single = Digest.parse("sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1")
    assert chain_ids([single]) == [single]  # ChainID(L0) = DiffID(L0)
    spec = ImageConfig.from_bytes(SPEC_CONFIG)
    # The spec example's two diff IDs: the second chain ID is sha256 of "<diff0> <diff1>".
    assert [str(x) for x in spec.chain_ids] == [
        "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
        sha256_text("sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1 "
                    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")]
    # ChainID(C) != ChainID(A|B|C): order and ancestry matter.
    ids = chain_ids([d("a"), d("b"), d("c")])
    assert ids[2] != Digest.parse(d("c"))
    assert chain_ids([d("b"), d("a")])[1] != chain_ids([d("a"), d("b")])[1]


@given(st.lists(st.sampled_from("0123456789abcdef"), min_size=1, max_size=8))
def test_chain_ids_property(chars):
    diff_ids = [d(c) for c in chars]
    expected = [diff_ids[0]]
    for diff in diff_ids[1:]:
        expected.append(sha256_text(f"{expected[-1]} {diff}"))
    assert [str(x) for x in chain_ids(diff_ids)] == expected
    assert chain_ids(diff_ids)[: len(diff_ids) - 1] == chain_ids(diff_ids[:-1])  # prefixes are stable
