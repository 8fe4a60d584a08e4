"""Where labkit keeps its state: the home folder, its settings (daemon.json) and the docker config."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .fsutil import atomic_write_bytes, read_json_object

ENV_HOME = "LABKIT_HOME"


def resolve_home(explicit: "str | os.PathLike | None" = None) -> Path:
    """Return the home folder: `explicit` (--home) wins over $LABKIT_HOME, which wins over the platform default."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs  # imported late: only needed without --home or LABKIT_HOME

    return Path(platformdirs.user_data_dir("labkit", appauthor=False))


def settings_path(home: Path) -> Path:
    """Return the path of daemon.json (docker's keys: registry-mirrors, insecure-registries)."""
    return Path(home) / "daemon.json"


def load_settings(home: Path) -> dict:
    """Return the settings in daemon.json, or {} when there is none."""
    return read_json_object(settings_path(home), "settings")


def save_settings(home: Path, settings: dict) -> None:
    """Write daemon.json atomically."""
    path = settings_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode())


def docker_config_path() -> Path:
    """Return docker's client config file: $DOCKER_CONFIG/config.json or ~/.docker/config.json."""
    base = os.environ.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"
