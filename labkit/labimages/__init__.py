"""The lab's stand-in images: reproducible recipes (recipes.py), their build (build.py) and the shipped OCI layout.

The shipped layout (`layout/`: oci-layout, index.json, blobs/sha256/...) is the source of truth: gzip bytes
depend on the zlib build, so the compressed blobs are shipped, and tests rebuild the uncompressed tars from
the recipes and compare their diff IDs with the shipped configs. index.json names each tag the way the lab
registry does (annotations `org.opencontainers.image.ref.name` = `<repo>:<tag>` and `io.labkit.repository`
= `<repo>`), so copying the layout seeds a registry root. Regenerate with `python -m labkit.labimages build`.

LAB_NOW is the "now" the notebooks pin (LABKIT_NOW=LAB_NOW): the images' created dates are set so that
`images` shows the lab text's CREATED column (busybox and ubuntu "3 months ago", node and httpd
"2 months ago", hcscompany/clock "2 years ago").
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

LAB_NOW = "2017-01-20T00:00:00Z"
LAYOUT_DIR = Path(__file__).resolve().parent / "layout"


def layout_path() -> Path:
    """Return the directory of the shipped OCI layout."""
    return LAYOUT_DIR


def copy_layout(dest: "str | os.PathLike", source: "str | os.PathLike | None" = None) -> Path:
    """Copy the shipped layout (oci-layout, index.json, blobs) into `dest` (created); return `dest`.

    Blobs already present are kept (they are named by their digest); index.json is replaced last, so a
    reader never sees a tag whose blobs are not there yet."""
    src = Path(source) if source is not None else LAYOUT_DIR
    dest = Path(dest)
    if not (src / "index.json").is_file():
        from ..errors import NotFound

        raise NotFound(f"copy lab images from {src}: no index.json there (run `python -m labkit.labimages build`)")
    for sub in sorted((src / "blobs").iterdir()):
        (dest / "blobs" / sub.name).mkdir(parents=True, exist_ok=True)
        for blob in sorted(sub.iterdir()):
            target = dest / "blobs" / sub.name / blob.name
            if not target.exists():
                tmp = target.with_name(f".{blob.name}.tmp")
                shutil.copyfile(blob, tmp)
                os.replace(tmp, target)
    for name in ("oci-layout", "index.json"):
        tmp = dest / f".{name}.tmp"
        shutil.copyfile(src / name, tmp)
        os.replace(tmp, dest / name)
    return dest
