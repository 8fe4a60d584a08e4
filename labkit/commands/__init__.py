"""The subcommands of `labkit`, grouped by what they act on; importing this package registers them all."""

from . import containers, images, registry, remote  # noqa: F401
