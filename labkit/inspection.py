"""`labkit inspect`: docker's JSON for images (and containers), with docker's key names."""

from __future__ import annotations

from .clock import rfc3339
from .errors import NotFound


def inspect_image(store, record) -> dict:
    """Return `docker image inspect`'s object for one stored image."""
    config = store.config(record)
    siblings = [r for r in store.images() if r.image_id == record.image_id]
    repo_tags, repo_digests = [], []
    for r in siblings:
        if r.name is not None and r.name.tag:
            tag = r.name.familiar
            if tag not in repo_tags:
                repo_tags.append(tag)
        if r.name is not None:
            for d in r.digests:
                entry = f"{r.name.familiar_name}@{d}"
                if entry not in repo_digests:
                    repo_digests.append(entry)
    history = [h for h in config.history if not h.get("empty_layer")]
    return {
        "Id": str(record.image_id),
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": (history[-1].get("comment", "") if history else ""),
        "Created": rfc3339(config.created) if config.created else "",
        "DockerVersion": config.data.get("docker_version", ""),
        "Author": config.author or "",
        "Config": dict(config.config or {}),
        "Architecture": config.architecture,
        "Variant": config.variant or None,
        "Os": config.os,
        "Size": record.size,
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in config.diff_ids]},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": {
            "mediaType": record.manifest.media_type,
            "digest": str(record.manifest.digest),
            "size": record.manifest.size,
        },
    }


_ZERO_TIME = "0001-01-01T00:00:00Z"  # what docker shows for a time that never happened


def inspect_container(store, layer_store, container) -> dict:
    """Return `docker container inspect`'s object for one container (docker's keys; GraphDriver names the
    read-write directory and the image's layer directories in the LayerStore `layer_store`, as overlay2
    does)."""
    config = container.config
    image_config = {}
    lower_dirs = []
    if container.image_id is not None:
        try:
            record = store.resolve(container.image_id)
            image_config = dict(store.config(record).config or {})
            lower_dirs = [str(layer_store.tree(d).diff)
                          for d in reversed(store.config(record).diff_ids) if layer_store.has(d)]
        except NotFound:
            pass
    cmd = container.cmd
    state = container.state
    return {
        "Id": container.id,
        "Created": config["created"],
        "Path": cmd[0] if cmd else "",
        "Args": cmd[1:],
        "State": {
            "Status": state, "Running": container.running, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": container.exit_code or 0, "Error": "",
            "StartedAt": config.get("started_at", _ZERO_TIME), "FinishedAt": config.get("finished_at", _ZERO_TIME),
        },
        "Image": container.image_id or "",
        "Name": "/" + container.name,
        "RestartCount": 0,
        "Driver": "labkit-overlay",
        "Platform": "linux",
        "SizeRw": container.size_rw(),
        "GraphDriver": {"Name": "labkit-overlay",
                        "Data": {"UpperDir": str(container.upper), "LowerDir": ":".join(lower_dirs)}},
        "Config": {**image_config, "Cmd": cmd, "Image": container.image},
    }


def inspect_any(store, layer_store, containers, name: str) -> dict:
    """Return the inspect object for a container of the Containers manager `containers` (tried first, like
    docker) or an image of the Store `store`."""
    try:
        container = containers.get(name)
    except NotFound:
        container = None
    if container is not None:
        return inspect_container(store, layer_store, container)
    try:
        record = store.resolve(name)
    except NotFound:
        raise NotFound(f"No such object: {name}") from None
    return inspect_image(store, record)
