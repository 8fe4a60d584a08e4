"""fsutil's FileRegion and copy_fd_range: a file's bytes at an offset of a bigger one, copied by the kernel where it
can, and by reads and writes where it cannot (the browser has neither copy_file_range nor sendfile)."""

from __future__ import annotations

import errno
import os

import pytest

from labkit import fsutil
from labkit.fsutil import FileRegion, copy_fd_range, region_of

PACK = b"".join(bytes([65 + i]) * (1000 + i) for i in range(8))    # eight "files" back to back
OFFSET = sum(1000 + i for i in range(3))                            # the fourth one: b"D" * 1003


def _no_kernel_copy(src, dst, offset, count):
    raise OSError(errno.ENOSYS, "not here")


@pytest.mark.parametrize("way", ["kernel", "kernel refuses", "no kernel copy", "no pread either"])
def test_copy_fd_range_copies_exactly_the_region(way, tmp_path, monkeypatch):
    (tmp_path / "pack").write_bytes(PACK)
    if way == "kernel refuses":
        monkeypatch.setattr(fsutil, "_KERNEL_COPIES", [_no_kernel_copy])
    elif way != "kernel":
        monkeypatch.setattr(fsutil, "_KERNEL_COPIES", [])
        if way == "no pread either":
            monkeypatch.delattr(os, "pread")
    src = os.open(tmp_path / "pack", os.O_RDONLY)
    try:
        with open(tmp_path / "out", "wb") as out:
            out.write(b"head:")
            out.flush()
            assert copy_fd_range(src, out.fileno(), 1003, OFFSET) == 1003
            assert copy_fd_range(src, out.fileno(), 100, len(PACK) - 10) == 10     # src ends first
    finally:
        os.close(src)
    assert (tmp_path / "out").read_bytes() == b"head:" + b"D" * 1003 + b"H" * 10


def test_file_region_reads_never_pass_its_end(tmp_path):
    (tmp_path / "pack").write_bytes(PACK)
    region = FileRegion(str(tmp_path / "pack"), OFFSET, 1003, True)
    assert region.read() == b"D" * 1003 and region.head(4) == b"DDDD"
    with region.open() as f:
        assert f.read(1000) == b"D" * 1000 and f.read() == b"DDD" and f.read(5) == b""
    assert region.copy_to(tmp_path / "copy", 0o600) == 1003
    assert (tmp_path / "copy").read_bytes() == b"D" * 1003 and (tmp_path / "copy").stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        region.copy_to(tmp_path / "copy")                  # never replaces (nor follows) what is there
    whole = region_of(tmp_path / "copy")
    assert (whole.offset, whole.size, whole.packed) == (0, 1003, False)
    assert whole.same_bytes(region) and not whole.same_bytes(FileRegion(str(tmp_path / "pack"), 0, 1003))
