"""Docker's tables and JSON rows for images and system df, with the clock pinned."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from labkit import clock, tables
from labkit.digest import Digest
from labkit.oci import OCI_MANIFEST, Descriptor
from labkit.reference import Reference
from labkit.store import ImageRecord

NOW = "2017-01-15T12:00:00Z"

# The lab text's `docker images` sample, character for character.
LAB_SAMPLE = """\
REPOSITORY                                         TAG                 IMAGE ID            CREATED             SIZE
mkerker/duckhunt                                   latest              5df5972ae7b5        2 months ago        771 MB
node                                               latest              efe7b69d7b71        2 months ago        660 MB
httpd                                              latest              6587355a8c4f        2 months ago        176 MB
busybox                                            latest              7968321274dc        3 months ago        1.11 MB
ubuntu                                             latest              104bec311bcd        3 months ago        129 MB
hcscompany/clock                                   latest              12068b93616f        2 years ago         2.43 MB
"""

SAMPLE_IMAGES = [  # name, id prefix, age in days, size in bytes
    ("mkerker/duckhunt", "5df5972ae7b5", 70, 771_000_000),
    ("node", "efe7b69d7b71", 68, 660_000_000),
    ("httpd", "6587355a8c4f", 66, 176_000_000),
    ("busybox", "7968321274dc", 95, 1_110_000),
    ("ubuntu", "104bec311bcd", 93, 129_000_000),
    ("hcscompany/clock", "12068b93616f", 800, 2_430_000),
]


def record(name: "str | None", id_prefix: str, age_days: float, size: int, digests=()) -> ImageRecord:
    now = clock.parse_time(NOW)
    ref = Reference.parse(name).with_default_tag() if name else None
    manifest = Descriptor(OCI_MANIFEST, Digest.of(id_prefix.encode()), 100)
    return ImageRecord(name=ref, repository=ref.familiar_name if ref else "<none>",
                       tag=ref.tag if ref else "<none>", manifest=manifest, index_digest=None,
                       image_id=Digest("sha256", id_prefix.ljust(64, "0")),
                       created=now - timedelta(days=age_days), digests=tuple(digests), _size=size)


@pytest.fixture
def now(monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", NOW)
    return clock.now()


def test_images_table_reproduces_the_lab_sample(now):
    # The sample's REPOSITORY column is 51 wide: the lab text dropped a row with a 48-character name.
    # Give the table such a row and every other line matches the sample exactly.
    long_name = "registry.example.com:5000/my-private/" + "x" * 11
    assert len(long_name) == 48
    recs = [record(*row) for row in SAMPLE_IMAGES] + [record(long_name, "aaaaaaaaaaaa", 900, 10)]
    out = tables.images_table(recs, now)
    lines = out.splitlines(keepends=True)
    assert lines[-1].startswith(long_name + "   latest")
    assert "".join(lines[:-1]) == LAB_SAMPLE


def test_images_table_columns_are_longest_cell_plus_3_at_least_20(now):
    out = tables.images_table([record(*row) for row in SAMPLE_IMAGES[:2]], now)
    assert out == (
        "REPOSITORY          TAG                 IMAGE ID            CREATED             SIZE\n"
        "mkerker/duckhunt    latest              5df5972ae7b5        2 months ago        771 MB\n"
        "node                latest              efe7b69d7b71        2 months ago        660 MB\n")
    wide = tables.images_table([record("averyveryverylongrepositoryname/app:v1", "5df5972ae7b5", 1, 5)], now)
    assert wide.splitlines()[1] == (
        "averyveryverylongrepositoryname/app   v1                  5df5972ae7b5        24 hours ago        5 B")


def test_images_table_digests_and_no_trunc(now):
    d = Digest.parse("sha256:72f784399fd2719b4cb4e16ef8e369a39dc67f53d978cd3e2e7bf4e502c7b793")
    recs = [record("debian:jessie", "5df5972ae7b5", 3, 129_000_000, [d]), record(None, "0123456789ab", 4, 1000)]
    out = tables.images_table(recs, now, digests=True)
    assert out.splitlines() == [
        "REPOSITORY          TAG                 DIGEST                                                                    IMAGE ID            CREATED             SIZE",
        f"debian              jessie              {d}   5df5972ae7b5        3 days ago          129 MB",
        "<none>              <none>              <none>                                                                    0123456789ab        4 days ago          1 kB",
    ]
    full = tables.images_table(recs[:1], now, no_trunc=True).splitlines()[1]
    assert f"sha256:5df5972ae7b5{'0' * 52}   " in full


def test_images_json_is_dockers_json_line(now):
    # docker/cli formatter/image.go: `--format json` is {{json .}} of the imageContext (keys sorted, no spaces);
    # Digest is "<none>" unless --digests or a format naming {{.Digest}} (needDigest). Docker 28 and the lab
    # text's era also have the deprecated VirtualSize.
    d = Digest.parse("sha256:72f784399fd2719b4cb4e16ef8e369a39dc67f53d978cd3e2e7bf4e502c7b793")
    summaries = tables.graphdriver_summaries([record("debian:jessie", "5df5972ae7b5", 60, 129_000_000, [d])])
    out = tables.images_output(summaries, now, tables.LAB_TEXT, "json")
    assert out == ('{"Containers":"N/A","CreatedAt":"2016-11-16 12:00:00 +0000 UTC","CreatedSince":"2 months ago",'
                   '"Digest":"<none>","ID":"5df5972ae7b5","Repository":"debian","SharedSize":"N/A","Size":"129 MB",'
                   '"Tag":"jessie","UniqueSize":"N/A","VirtualSize":"129 MB"}\n')
    with_digest = tables.images_output(summaries, now, tables.DOCKER29, "{{json .}}", digests=True)
    assert json.loads(with_digest)["Digest"] == str(d) and "VirtualSize" not in json.loads(with_digest)


DF = {
    "images": [
        {"repository": "debian", "tag": "jessie", "image_id": Digest("sha256", "5df5972ae7b5".ljust(64, "0")),
         "created": datetime(2016, 11, 16, 12, tzinfo=timezone.utc), "size": 130_000_000,
         "shared_size": 100_000_000, "unique_size": 30_000_000, "containers": 1, "digest": None},
        {"repository": "app", "tag": "latest", "image_id": Digest("sha256", "efe7b69d7b71".ljust(64, "0")),
         "created": datetime(2017, 1, 14, 12, tzinfo=timezone.utc), "size": 110_000_000,
         "shared_size": 100_000_000, "unique_size": 10_000_000, "containers": 0, "digest": None},
    ],
    "layers_size": 140_000_000,
    "containers": [],
    "totals": {"images": {"total": 2, "active": 1, "size": 140_000_000, "reclaimable": 110_000_000},
               "containers": {"total": 0, "active": 0, "size": 0, "reclaimable": 0}},
}


def test_system_df_summary_table(now):
    # the lab text's Docker (1.13: cli/command/formatter/disk_usage.go, go-units HumanSize "%.4g %s")
    assert tables.system_df_table(DF, now) == (
        "TYPE                TOTAL               ACTIVE              SIZE                RECLAIMABLE\n"
        "Images              2                   1                   140 MB              110 MB (78%)\n"
        "Containers          0                   0                   0 B                 0 B\n"
        "Local Volumes       0                   0                   0 B                 0 B\n")


def test_system_df_verbose_table(now):
    out = tables.system_df_table(DF, now, verbose=True)
    assert out.startswith(
        "Images space usage:\n\n"
        "REPOSITORY          TAG                 IMAGE ID            CREATED             SIZE                "
        "SHARED SIZE         UNIQUE SIZE         CONTAINERS\n"
        "debian              jessie              5df5972ae7b5        2 months ago        130 MB              "
        "100 MB              30 MB               1\n"
        "app                 latest              efe7b69d7b71        24 hours ago        110 MB              "
        "100 MB              10 MB               0\n"
        "\nContainers space usage:\n\nCONTAINER ID")


def test_system_df_json(now):
    assert tables.system_df_json(DF, now) == [
        {"Active": "1", "Reclaimable": "110 MB (78%)", "Size": "140 MB", "TotalCount": "2", "Type": "Images"},
        {"Active": "0", "Reclaimable": "0 B", "Size": "0 B", "TotalCount": "0", "Type": "Containers"},
        {"Active": "0", "Reclaimable": "0 B", "Size": "0 B", "TotalCount": "0", "Type": "Local Volumes"}]
    rows = tables.system_df_json(DF, now, verbose=True)
    assert [(r["Repository"], r["SharedSize"], r["UniqueSize"], r["Containers"]) for r in rows] == [
        ("debian", "100 MB", "30 MB", "1"), ("app", "100 MB", "10 MB", "0")]
    assert set(rows[0]) == {"Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository",
                            "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"}


@pytest.mark.parametrize("rows,expected", [
    ([["a", "b"]], "a                   b\n"),
    ([["abc"], ["d", "e"]], "abc\nd                   e\n"),  # a line's last cell is not in a column
    ([], ""),
])
def test_tabwrite(rows, expected):
    assert tables.tabwrite(rows) == expected
