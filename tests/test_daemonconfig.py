"""daemon.json parsed once (labkit.daemonconfig): Docker's keys, defaults (moby daemon/config/config.go) and
the image-store switch, errors that name the file and the line, warnings for what labkit ignores."""

from __future__ import annotations

import io

import pytest

from labkit.cli import main
from labkit.daemonconfig import (CONTAINERD, GRAPHDRIVER, DaemonConfigError, image_store_name,
                                 parse_daemon_json)
from labkit.home import load_daemon_config, load_settings, save_settings
from labkit.lab import Lab

PATH = "/home/me/labkit/daemon.json"


def test_defaults_are_docker_29s():
    config = parse_daemon_json("", PATH)
    assert config.image_store == CONTAINERD  # Docker Engine 29: the containerd image store unless disabled
    assert (config.max_concurrent_downloads, config.max_concurrent_uploads) == (3, 5)
    assert config.registry_mirrors == () and dict(config) == {} and config.warnings == ()


def test_dockers_keys_and_the_mapping_view():
    config = parse_daemon_json("""{
  "registry-mirrors": ["http://127.0.0.1:5000"],
  "insecure-registries": ["cache:5000"],
  "features": {"containerd-snapshotter": false},
  "max-concurrent-downloads": 1,
  "max-concurrent-uploads": 0
}""", PATH)
    assert config.image_store == GRAPHDRIVER
    assert config.registry_mirrors == ("http://127.0.0.1:5000",) and config.insecure_registries == ("cache:5000",)
    assert (config.max_concurrent_downloads, config.max_concurrent_uploads) == (1, 0)
    assert config.get("registry-mirrors") == ["http://127.0.0.1:5000"] and "features" in config
    assert config.warnings == ()


def test_unknown_feature_and_key_are_ignored_with_a_warning_naming_the_line():
    config = parse_daemon_json('{\n  "features": {\n    "containerd-snapshoter": false\n  },\n  "log-driver": "x"\n}',
                               PATH)
    assert config.image_store == CONTAINERD  # the misspelt feature changes nothing, as in Docker
    assert config.warnings == (
        f'{PATH}:3: unknown feature "containerd-snapshoter" ignored (labkit knows: containerd-snapshotter)',
        f'{PATH}:5: "log-driver" is not a setting labkit uses; ignored')


@pytest.mark.parametrize("text, message", [
    ('{\n  "features": {"containerd-snapshotter": false,}\n}',
     "line 2, column 48: invalid JSON: Expecting property name enclosed in double quotes"),
    ('{"registry-mirrors": [1]}', 'line 1: "registry-mirrors" must be a list of strings'),
    ('{\n\n "max-concurrent-downloads": -2}', "line 3: invalid max concurrent downloads: -2"),
    ('{\n "features": {\n  "containerd-snapshotter": "no"}}', 'line 3: feature "containerd-snapshotter" must be '
                                                             "true or false"),
    ("[]", "the file must hold a JSON object ({...})"),
])
def test_a_corrupt_file_is_one_error_naming_the_file_and_line(text, message):
    with pytest.raises(DaemonConfigError) as e:
        parse_daemon_json(text, PATH)
    assert str(e.value) == f"unable to configure labkit with file {PATH}: {message}"


def test_image_store_names():
    assert image_store_name("graphdriver") == GRAPHDRIVER
    with pytest.raises(Exception, match='unknown image store "overlay2"'):
        image_store_name("overlay2")


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_the_command_stops_on_a_corrupt_file_and_changes_nothing(labkit_home):
    (labkit_home / "daemon.json").write_text('{"features": {"containerd-snapshotter": tru}}')
    status, out, err = run("tag", "busybox", "x")
    assert status == 1 and out == ""
    assert err.startswith(f"Error: unable to configure labkit with file {labkit_home / 'daemon.json'}: line 1")
    assert not (labkit_home / "store").exists()


def test_warnings_print_once_on_stderr_and_the_command_goes_on(labkit_home):
    save_settings(labkit_home, {"features": {"containerd-snapshotter": False, "foo": True}})
    status, out, err = run("images")
    assert status == 0 and out.startswith("REPOSITORY          TAG")  # the lab text's table: graphdriver
    assert err.count("\n") == 1 and err.startswith("WARNING: ") and 'unknown feature "foo"' in err


def test_lab_image_store_overrides_the_file(labkit_home):
    save_settings(labkit_home, {"features": {"containerd-snapshotter": False}})
    assert Lab(labkit_home).image_store == GRAPHDRIVER
    assert Lab(labkit_home, image_store="containerd").image_store == CONTAINERD
    assert load_daemon_config(labkit_home).image_store == GRAPHDRIVER
    assert load_settings(labkit_home) == {"features": {"containerd-snapshotter": False}}
    with pytest.raises(Exception, match="unknown image store"):
        Lab(labkit_home, image_store="zfs")
