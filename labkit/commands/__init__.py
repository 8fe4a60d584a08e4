"""The subcommands of `labkit`, grouped by what they act on; importing this package registers them all."""

from . import images, registry  # noqa: F401
