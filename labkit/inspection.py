"""`labkit inspect`: docker's JSON for images (and containers), with docker's key names."""

from __future__ import annotations

from .clock import rfc3339
from .errors import NotFound


def inspect_image(store, record, service=None) -> dict:
    """Return `docker image inspect`'s object for one stored image, in the terms of the ImageService
    `service` (default: the graphdriver store's). With the containerd store, Id and Descriptor are what the
    name points at (the index, or the manifest), RepoDigests name that digest, and Size counts the
    platform's blobs plus its unpacked layers (moby daemon/containerd/image_inspect.go)."""
    config = store.config(record)
    containerd = service is not None and service.containerd
    if containerd:
        siblings = [r for r in store.images() if r.target == record.target]
    else:
        siblings = [r for r in store.images() if r.image_id == record.image_id]
    repo_tags, repo_digests = [], []
    for r in siblings:
        if r.name is not None and r.name.tag:
            tag = r.name.familiar
            if tag not in repo_tags:
                repo_tags.append(tag)
        if r.name is not None:
            for d in ([record.target] if containerd else r.digests):
                entry = f"{r.name.familiar_name}@{d}"
                if entry not in repo_digests:
                    repo_digests.append(entry)
    history = [h for h in config.history if not h.get("empty_layer")]
    descriptor = {"mediaType": record.manifest.media_type, "digest": str(record.manifest.digest),
                  "size": record.manifest.size}
    if containerd and record.index_digest is not None and store.layout.has_blob(record.index_digest):
        from .oci import Index

        index = Index.from_bytes(store.layout.read_blob(record.index_digest))
        descriptor = {"mediaType": index.media_type, "digest": str(index.digest), "size": len(index.raw)}
    return {
        "Id": str(record.target if containerd else record.image_id),
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests,
        # the image it was committed from: containerd's parent label (moby daemon/containerd/image.go
        # GetImage), graphdriver's Parent, that image's config ID (daemon/images/image_inspect.go)
        "Parent": _parent_id(store, record, containerd),
        "Comment": (history[-1].get("comment", "") if history else ""),
        "Created": rfc3339(config.created) if config.created else "",
        "DockerVersion": config.data.get("docker_version", ""),
        "Author": config.author or "",
        "Config": dict(config.config or {}),
        "Architecture": config.architecture,
        "Variant": config.variant or None,
        "Os": config.os,
        "Size": service.size(record) if containerd else record.size,
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in config.diff_ids]},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": descriptor,
    }


_ZERO_TIME = "0001-01-01T00:00:00Z"  # what docker shows for a time that never happened


def inspect_container(store, layer_store, container, service=None) -> dict:
    """Return `docker container inspect`'s object for one container (docker's keys; GraphDriver names the
    read-write directory and, top first, where the LayerStore `layer_store` keeps each image layer's files:
    a pack file per layer (a directory for a layer applied before packs), where overlay2 names directories)."""
    config = container.config
    image_config = {}
    lower_dirs = []
    if container.image_id is not None:
        try:
            record = store.resolve(container.image_id)
            image_config = dict(store.config(record).config or {})
            lower_dirs = [str(layer_store.tree(d).data_path)
                          for d in reversed(store.config(record).diff_ids) if layer_store.has(d)]
        except NotFound:
            pass
    argv = container.argv
    state = container.state
    from .containers import process

    info = process.state(container)
    run_config = {**image_config, "Hostname": container.hostname, "Tty": bool(config.get("tty")),
                  "OpenStdin": bool(config.get("open_stdin")), "Env": list(config.get("env") or []),
                  "Cmd": container.cmd or None, "Image": container.image,
                  "WorkingDir": config.get("working_dir") or "", "Entrypoint": container.entrypoint or None}
    return {
        "Id": container.id,
        "Created": config["created"],
        "Path": argv[0] if argv else "",
        "Args": argv[1:],
        "State": {
            "Status": state, "Running": container.running, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": process.host_pid(container, 1) if info["running"] else 0,
            "ExitCode": container.exit_code or 0, "Error": container.error,
            "StartedAt": config.get("started_at") or _ZERO_TIME, "FinishedAt": config.get("finished_at") or _ZERO_TIME,
        },
        "Image": (service.display_id(container.image_id) if service is not None else container.image_id) or "",
        "LogPath": str(process.log_path(container)),
        "Name": "/" + container.name,
        "RestartCount": 0,
        "Driver": "labkit-overlay",
        "Platform": "linux",
        "SizeRw": container.size_rw(),
        "GraphDriver": {"Name": "labkit-overlay",
                        "Data": {"UpperDir": str(container.upper), "LowerDir": ":".join(lower_dirs)}},
        "Config": run_config,
    }


def inspect_any(store, layer_store, containers, name: str, service=None, kind: "str | None" = None) -> dict:
    """Return the inspect object for a container of the Containers manager `containers` (tried first, like
    docker) or an image of the Store `store` (in the terms of the ImageService `service`); `kind`
    ("image", "container") looks at that type only, as `docker image inspect` and `--type` do."""
    container = None
    if kind != "image":
        try:
            container = containers.get(name)
        except NotFound:
            if kind == "container":
                raise NotFound(f"No such container: {name}") from None
    if container is not None:
        return inspect_container(store, layer_store, container, service)
    try:
        record = service.resolve(name) if service is not None else store.resolve(name)
    except NotFound:
        raise NotFound(f"No such image: {name}" if kind == "image" else f"No such object: {name}") from None
    return inspect_image(store, record, service)


# Fields of Docker's inspect types that are Go maps (a missing key is "<no value>", not an error); every other
# JSON object is a struct there (an unknown field is an error, and docker retries on the raw JSON)
_MAP_FIELDS = frozenset({"Labels", "ExposedPorts", "Volumes", "Data", "Annotations", "Networks", "Ports"})


def _typed(value, key: str = ""):
    """Return an inspect object as docker's typed Go value: maps for _MAP_FIELDS, structs elsewhere."""
    from .gotemplate import Struct

    if isinstance(value, dict):
        if key in _MAP_FIELDS:
            return {k: _typed(v) for k, v in value.items()}
        return Struct("inspect", {k: _typed(v, k) for k, v in value.items()})
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value


def render_inspect(objects: list, fmt: "str | None") -> "tuple[str, list[str]]":
    """Return (what `docker inspect` prints for `objects`, its template errors) for a --format: none (an
    indented JSON array), "json" (a compact one), or a Go template run on each object, typed first and on
    the raw JSON when that fails (docker/cli cli/command/inspect/inspector.go). A template that does not
    parse is CliError with exit status 64, as docker's."""
    import json

    from .errors import CliError
    from .gotemplate import TemplateError, parse

    if not fmt:
        return json.dumps(objects, indent=4) + "\n", []
    if fmt == "json":
        return json.dumps(objects, separators=(",", ":"), ensure_ascii=False) + "\n", []
    try:
        tmpl = parse(fmt)
    except TemplateError as e:
        raise CliError(f"template parsing error: {e}", status=64) from None
    out, errors = [], []
    for obj in objects:
        try:
            out.append(tmpl.execute(_typed(obj)) + "\n")
        except TemplateError:
            try:
                out.append(tmpl.execute(obj, missingkey="error") + "\n")
            except TemplateError as e:
                errors.append(f"template parsing error: {e}")
    return "".join(out) or "\n", errors


def _parent_id(store, record, containerd: bool) -> str:
    """Return `inspect`'s Parent: "" for an image nobody committed it from here (pulled, built, imported)."""
    if record.parent is None:
        return ""
    if containerd:
        return str(record.parent)
    return next((str(r.image_id) for r in store.images() if r.target == record.parent), "")
