"""Where labkit keeps its state: the home folder, its settings (daemon.json) and the docker config."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .fsutil import atomic_write_bytes

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


def load_daemon_config(home: Path):
    """Return the DaemonConfig of `home`'s daemon.json (empty when there is none); DaemonConfigError naming
    the file and line when it is corrupt."""
    from .daemonconfig import parse_daemon_json
    from .errors import LabkitError

    path = settings_path(home)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as e:
        raise LabkitError(f"unable to configure labkit with file {path}: {e}") from None
    return parse_daemon_json(text, str(path))


def load_settings(home: Path) -> dict:
    """Return the settings in daemon.json as a plain dict ({} when there is none), checked like
    load_daemon_config (for code that edits the file: labctl)."""
    return dict(load_daemon_config(home))


def save_settings(home: Path, settings) -> None:
    """Write daemon.json atomically (`settings`: a dict, or a DaemonConfig)."""
    path = settings_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(dict(settings), indent=2, sort_keys=True) + "\n").encode())


def docker_config_path() -> Path:
    """Return docker's client config file: $DOCKER_CONFIG/config.json or ~/.docker/config.json."""
    base = os.environ.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"
