"""Copy-on-write containers over an image, persisted under home/containers/<64-hex id>/.

    config.json    id, name, image (as the user named it), image_id, created, state, exit code, cmd
    upper/         the read-write layer as a real directory (like overlay2's upper dir)
    changes.json   what the directory cannot hold: whiteouts, opaque dirs, and each upper entry's metadata
                   (mode, uid, gid, mtime); upper/ itself keeps owner-writable permissions so labkit can
                   always edit and remove it, whatever mode the container gave a path
    history.jsonl  one Op per line: what each file operation did (copy-up, whiteout, opaque, ...)

The merged view is the container's upper layer over the image's read-only view (labkit.imageview), with
overlayfs semantics (kernel Documentation/filesystems/overlayfs.rst, without redirect_dir/metacopy):
- nothing of the image is copied when a container is created or read;
- the first write or metadata change of an image file copies the whole file up (its parents as dirs);
- deleting an image path leaves a whiteout; a directory recreated over a deleted image directory is opaque;
- renaming an image directory copies its subtree up and whites out the old name (overlayfs without
  redirect_dir answers EXDEV and `mv` copies, which is what this does).

The parts: `ops` (the value types: Op, Node, states), `state` (ContainerState: config.json, changes.json,
history.jsonl, the lock), `view` (MergedView: lookups and reads of the merged view), `cow` (CopyOnWrite: the
file operations), `container` (Container, the three together), `changes` (`docker diff`), `process` (the
main process: start, advance on labkit's clock, stop, kill, logs, top, exec), `manager` (Containers: the
containers of one home).

File operations raise the OSError subclasses a real file system raises (FileNotFoundError, IsADirectoryError,
...), with errno and filename set, so the same code can drive a real directory (the property test does) and
the shell can word its errors like a shell. Paths are container paths ("/etc/hosts"); a symlink inside a
path is followed through the merged view, never out of the container.
"""

from __future__ import annotations

from ..paths import MAX_SYMLINKS
from ..reference import SCRATCH
from .ops import CONTAINER_LAYER, STATE_CREATED, STATE_EXITED, STATE_RUNNING, Node, Op
from .container import Container
from .manager import Containers, size_text
from .process import StartError
from .changes import diff

__all__ = ["CONTAINER_LAYER", "MAX_SYMLINKS", "SCRATCH", "STATE_CREATED", "STATE_EXITED", "STATE_RUNNING", "Node",
           "Op", "Container", "Containers", "StartError", "size_text", "diff"]
