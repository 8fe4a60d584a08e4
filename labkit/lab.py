"""The friendly facade: `Lab(home).pull("debian:jessie")` reads like the lesson; each part stays usable alone."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from .home import resolve_home


class Lab:
    """One labkit home: its content store, layer store and containers, and the lab's verbs over them."""

    def __init__(self, home: "str | Path | None" = None):
        self.home = resolve_home(home)

    def __repr__(self) -> str:
        return f"Lab(home={str(self.home)!r})"

    @cached_property
    def store(self):
        """Return the content store (an OCI image layout under home/store)."""
        from .store import Store

        return Store(self.home)

    @cached_property
    def layers(self):
        """Return the layer store (each layer applied once into home/layers)."""
        from .layers.store import LayerStore

        return LayerStore(self.home, store=self.store)

    def settings(self) -> dict:
        """Return the settings in home/daemon.json (registry-mirrors, insecure-registries)."""
        from .home import load_settings

        return load_settings(self.home)

    # --- registries -------------------------------------------------------------------------------
    def pull(self, ref: str, platform: "str | None" = None, extract: bool = True, progress=None, trace=None):
        """Pull an image like `docker pull`; return a PullResult (progress: a callable taking events)."""
        from .pull import pull

        return pull(self.store, ref, platform, extract=self.layers if extract else None, progress=progress,
                    settings=self.settings(), trace=trace)

    # --- images -------------------------------------------------------------------------------
    def images(self):
        """Return the stored images, newest first (ImageRecord values)."""
        return self.store.images()

    def image(self, ref: str):
        """Return the ImageRecord for a reference, image ID or digest."""
        return self.store.resolve(ref)

    def tag(self, source: str, target: str) -> None:
        """Give the image `source` the extra name `target`."""
        self.store.tag(source, target)

    def rmi(self, ref: str, force: bool = False) -> list[str]:
        """Untag (and delete when unreferenced) an image; return docker's Untagged/Deleted lines."""
        return self.store.rmi(ref, force=force, containers=self._containers_by_image())

    def system_df(self) -> dict:
        """Return disk usage like `docker system df -v` (images, shared and unique sizes, containers)."""
        return self.store.system_df(containers=self._containers_by_image())

    def _containers_by_image(self):
        """Return {image ID: [container info]} for rmi and system df (empty until containers exist)."""
        return {}
