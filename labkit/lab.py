"""The friendly facade: `Lab(home).pull("debian:jessie")` reads like the lesson; each part stays usable alone."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from .daemonconfig import GRAPHDRIVER
from .home import resolve_home


class Lab:
    """One labkit home: its content store, layer store and containers, and the lab's verbs over them.

    `image_store` picks which Docker this Lab plays, over the same store on disk:
    - "containerd": Docker Engine 29's containerd image store (a fresh install's default): an image's ID
      is the digest of what was pulled (the index, or the manifest), `images` prints the collapsed view;
    - "graphdriver": the graphdriver store (overlay2) of the lab text's Docker: the ID is the digest of the
      image's config, `images` prints the classic table;
    - None (the default): what `$LABKIT_HOME/daemon.json` says (`{"features": {"containerd-snapshotter":
      false}}` for graphdriver; containerd otherwise, as Docker 29).
    Two Labs on one home with different `image_store` show the same images both ways, side by side.
    """

    def __init__(self, home: "str | Path | None" = None, image_store: "str | None" = None):
        from .daemonconfig import image_store_name

        self.home = resolve_home(home)
        self._image_store = image_store_name(image_store) if image_store is not None else None

    def __repr__(self) -> str:
        mode = f", image_store={self._image_store!r}" if self._image_store else ""
        return f"Lab(home={str(self.home)!r}{mode})"

    @property
    def config(self):
        """Return the DaemonConfig of home/daemon.json, read now (the file may change while a Lab lives, as
        `lab up` sets the mirror); DaemonConfigError when it is corrupt."""
        from .home import load_daemon_config

        return load_daemon_config(self.home)

    @property
    def image_store(self) -> str:
        """Return the image store this Lab plays: "containerd" or "graphdriver" (see the class)."""
        return self._image_store or self.config.image_store

    def with_image_store(self, image_store: str) -> "Lab":
        """Return a Lab on this home playing `image_store` ("containerd" or "graphdriver"; self when it
        already does): one store on disk, the other Docker's IDs, sizes and views."""
        from .daemonconfig import image_store_name

        return self if self.image_store == image_store_name(image_store) else Lab(self.home, image_store)

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

    def settings(self):
        """Return the settings in home/daemon.json (a DaemonConfig: a Mapping with Docker's keys)."""
        return self.config

    # --- registries -------------------------------------------------------------------------------
    def pull(self, ref: str, platform: "str | None" = None, extract: bool = True, progress=None, trace=None,
             mirrors=None, keep=None):
        """Pull an image like `docker pull`; return a PullResult (progress: a callable taking events;
        mirrors: None for daemon.json's registry-mirrors, [] to go straight to the registry; keep: name
        nothing and hand the blobs to keep(manifest, digests), as a build pulls its base images)."""
        from .pull import pull

        return pull(self.store, ref, platform, extract=self.layers if extract else None, progress=progress,
                    settings=self.settings(), trace=trace, mirrors=mirrors, keep=keep)

    def push(self, ref: str, progress=None, trace=None):
        """Push a stored image like `docker push`; return a PushResult."""
        from .push import push

        return push(self.store, ref, progress=progress, settings=self.settings(), trace=trace)

    def search(self, term: str, limit: int = 25, filters=()):
        """Search the mirrors, then Docker Hub (or the registry named in `term`); return SearchResults."""
        from .registry.search import search

        return search(term, limit=limit, filters=filters, settings=self.settings(), home=self.home)

    # --- images -------------------------------------------------------------------------------
    def image_service(self):
        """Return the ImageService: the images as this Lab's image store sees them (IDs, sizes, platforms)."""
        from .imageservice import ImageService

        return ImageService(self.store, self.layers, self.image_store, self._containers_by_image())

    def images(self):
        """Return the stored images, newest first (ImageRecord values: one per name, both stores' IDs:
        `image_id` the graphdriver one, `target` the containerd one)."""
        return self.store.images()

    def image_summaries(self):
        """Return the images as `docker images` lists them in this Lab's image store (ImageSummary values:
        `id`, `repo_tags`, `size`, and with containerd `manifests`, one per platform)."""
        return self.image_service().summaries()

    def image(self, ref: str):
        """Return the ImageRecord for a reference, or an image ID (or prefix) of this Lab's image store."""
        return self.image_service().resolve(ref)

    def view(self, ref):
        """Return the merged read-only filesystem of a stored image (an ImageView; ref: a reference, image ID
        or ImageRecord), applying any layer not applied yet."""
        from .imageview import ImageView

        return ImageView.open(self.store, self.layers, ref)

    def tag(self, source: str, target: str) -> None:
        """Give the image `source` the extra name `target`."""
        self.store.tag(source, target, ids=self.image_service().ids)

    def rmi(self, ref: str, force: bool = False) -> list[str]:
        """Untag (and delete when unreferenced) an image; return docker's Untagged/Deleted lines."""
        from .prune import remove_image

        return remove_image(self.store, self.layers, self.image_store, ref, force=force,
                            containers=self._containers_by_image())

    def system_df(self) -> dict:
        """Return disk usage like `docker system df -v` (images, shared and unique sizes, containers), in
        this Lab's image store's terms."""
        containers = self._containers_by_image()
        df = self.store.system_df(containers=containers)
        self._build_cache_usage(df)
        if self.image_store == GRAPHDRIVER:
            return df
        usage = self.image_service().disk_usage()
        images = []
        for i in usage["images"]:
            s = i["summary"]
            repo, _, tag = s.repo_tags[0].rpartition(":") if s.repo_tags else ("<none>", "", "<none>")
            images.append({"repository": repo, "tag": tag, "image_id": s.id, "created": s.created,
                           "size": s.size, "shared_size": i["shared_size"],
                           "unique_size": s.size - i["shared_size"], "containers": s.containers, "digest": None,
                           "summary": s})
        df["images"] = images
        df["totals"]["images"] = {"total": len(images), "active": usage["active"], "size": usage["total_size"],
                                  "reclaimable": usage["reclaimable"]}
        return df

    def _build_cache_usage(self, df: dict) -> None:
        """Add the build cache's records and totals to a disk-usage dict (moby builder-next DiskUsage: the
        total of every record, reclaimable what no build uses and no image shares)."""
        from .build.cache import BuildCache

        in_use = {str(d) for d in self.store.layout.reachable()}
        items = BuildCache(self.home, self.store).disk_usage(in_use)
        df["build_cache"] = items
        df["totals"]["build_cache"] = {
            "total": len(items), "active": sum(1 for i in items if i["in_use"]),
            "size": sum(i["size"] for i in items),
            "reclaimable": sum(i["size"] for i in items if not i["in_use"] and not i["shared"])}

    def _containers_by_image(self):
        """Return {image ID: [container info]} for rmi and system df."""
        return self.containers.in_use()

    # --- containers -------------------------------------------------------------------------------
    @cached_property
    def containers(self):
        """Return the containers manager (copy-on-write containers under home/containers).

        $LABKIT_SEED makes container IDs and names reproducible (stored notebook outputs, tests)."""
        import os
        import random

        from .containers import Containers

        seed = os.environ.get("LABKIT_SEED")
        rng = random.Random(seed) if seed else None
        return Containers(self.home, store=self.store, layer_store=self.layers, rng=rng)

    def ensure_image(self, image: str, progress=None):
        """Return the stored image, pulling it first when missing (the implicit pull of `docker run`): a name,
        or an ID of this Lab's image store; with containerd, the record of the platform it runs (the host's)."""
        from .errors import NotFound
        from .reference import Reference

        service = self.image_service()
        try:
            return service.resolve(image)
        except NotFound:
            try:
                ref = Reference.parse(image).with_default_tag()
            except ValueError:
                raise NotFound(f"No such image: {image}") from None
            if progress is not None:
                from .progress import MessageEvent

                progress(MessageEvent(f"Unable to find image '{ref.familiar}' locally", "unable-to-find"))
            self.pull(image, progress=_ImplicitPull(progress) if progress is not None else None)
            return service.resolve(image)

    def create(self, image: str, name: "str | None" = None, cmd=None, progress=None, **options):
        """Create a container (state Created) over `image`, pulling it first when missing; return it.

        options: entrypoint, env, tty, interactive, workdir, auto_remove (`docker create`'s --entrypoint, -e,
        -t, -i, -w, --rm). An image and arguments that give no command are refused, as Docker refuses them."""
        record = self.ensure_image(image, progress)
        return self.containers.create(image, name=name, cmd=list(cmd) if cmd else None, require_command=True,
                                      record=record, **options)

    def run(self, image: str, cmd=None, detach: bool = False, name: "str | None" = None, progress=None, **options):
        """Create and start a container like `docker run`; return (container, output, exit status, ops): the
        command runs to its end in simulated time unless `detach` (status None while it still runs)."""
        record = self.ensure_image(image, progress)
        return self.containers.run(image, cmd=list(cmd) if cmd else None, detach=detach, name=name,
                                   require_command=True, record=record, **options)

    def container(self, ref: str):
        """Return the container with this name, ID or unique ID prefix."""
        return self.containers.get(ref)

    def commit(self, container, ref: "str | None" = None, message: str = "", author: str = "", changes=()):
        """Commit a container's read-write layer as a new image; return its ImageRecord."""
        from .commit import commit

        if isinstance(container, str):
            container = self.containers.get(container)
        return commit(self.store, self.layers, container, ref, message=message, author=author, changes=changes)

    def builder(self, clock=None):
        """Return the image builder of this home (a labkit.build.builder.Builder): BuildKit's rules, its cache
        in the home, base images pulled like `docker build` pulls them."""
        from .build.builder import Builder

        def pull(ref: str, platform: "str | None", keep):
            return self.pull(ref, platform=platform, keep=keep)

        return Builder(self.store, self.layers, self.home, pull=pull, clock=clock,
                       image_store=getattr(self, "image_store", "graphdriver"))

    def build(self, context, tags=(), dockerfile=None, build_args=None, target: str = "", no_cache: bool = False,
              no_cache_filter=(), labels=None, platform: "str | None" = None, progress=None, clock=None):
        """Build an image from a Dockerfile like `docker build` (BuildKit); return a BuildResult. `progress`
        takes the build's events (labkit.build.display.PlainDisplay prints them as --progress=plain does);
        a failed build raises BuildError and tags nothing."""
        from .build.builder import BuildRequest

        req = BuildRequest(context=context, dockerfile=dockerfile, tags=list(tags), build_args=dict(build_args or {}),
                           target=target, no_cache=no_cache, no_cache_filter=list(no_cache_filter),
                           labels=dict(labels or {}), platform=platform)
        return self.builder(clock).build(req, progress)

    def history(self, ref: str) -> list[dict]:
        """Return `docker history` rows for an image, newest first, in this Lab's image store's terms (IDs;
        sizes: the layers' files, and with containerd 0 for a layer not unpacked)."""
        from .tables import history

        service = self.image_service()
        record = service.resolve(ref)
        rows = history(self.store, record, sizes=service.layer_sizes(record))
        for row, image_id in zip(rows, service.history_ids(record, len(rows))):
            row["id"] = image_id
        return rows

    def unpack(self, ref: str, dest: "str | Path"):
        """Write an image's root filesystem to `dest` as a standalone tree; return an UnpackResult."""
        from .unpack import unpack

        return unpack(self.store, self.layers, ref, dest)


class _ImplicitPull:
    """Forward pull events, minus the lines `docker run`'s implicit pull does not print."""

    _SKIP = {"default-tag", "reference"}

    def __init__(self, progress):
        self.progress = progress

    def __call__(self, event) -> None:
        if getattr(event, "kind", None) in self._SKIP:
            return
        self.progress(event)
