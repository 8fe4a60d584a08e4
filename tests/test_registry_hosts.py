"""Registry host configuration as containerd reads it (`<home>/certs.d/<host>/hosts.toml`): where it is looked
for, what a host may do, the server as last resort, and clear errors for a file that is not right."""

from __future__ import annotations

import pytest

from labkit.errors import LabkitError
from labkit.registry import hosts
from labkit.registry.hosts import RegistryHost


def write(home, name: str, text: str) -> None:
    path = hosts.config_dir(home) / name / "hosts.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("namespace,dirs", [
    ("myregistry.io:5000", ["myregistry.io_5000_", "myregistry.io:5000", "_default"]),
    ("docker.io", ["docker.io", "_default"]),
    ("localhost:5000", ["localhost_5000_", "localhost:5000", "_default"]),
])
def test_where_containerd_looks(namespace, dirs):
    assert hosts.namespace_dirs(namespace) == dirs


def test_no_file_means_the_registry_itself(tmp_path):
    assert hosts.hosts_for("ghcr.io", tmp_path) is None
    assert hosts.base_urls("ghcr.io", tmp_path, "pull", "https://ghcr.io") == ["https://ghcr.io"]
    assert hosts.base_urls("ghcr.io", None, "push", "https://ghcr.io") == ["https://ghcr.io"]


def test_hosts_first_then_the_server_each_for_what_it_may_do(tmp_path):
    write(tmp_path, "docker.io", """
server = "https://registry-1.docker.io"

[host."https://public-mirror.example.com"]
  capabilities = ["pull"]
[host."http://docker-mirror.internal:5000"]
  capabilities = ["pull", "resolve"]
  ca = "docker-mirror.crt"
""")
    assert hosts.hosts_for("docker.io", tmp_path) == [
        RegistryHost("https://public-mirror.example.com", ("pull",)),
        RegistryHost("http://docker-mirror.internal:5000", ("pull", "resolve")),
        RegistryHost("https://registry-1.docker.io", ("pull", "resolve", "push"))]
    # a public mirror is never trusted to resolve a tag, nor any mirror to take a push (docs/hosts.md)
    assert hosts.endpoints("docker.io", tmp_path, "pull") == ["http://docker-mirror.internal:5000",
                                                              "https://registry-1.docker.io"]
    assert hosts.endpoints("docker.io", tmp_path, "push") == ["https://registry-1.docker.io"]


def test_without_server_the_namespace_itself_comes_last(tmp_path):
    write(tmp_path, "_default", '[host."https://registry.example.com"]\n  capabilities = ["pull", "resolve"]\n')
    assert hosts.base_urls("quay.io", tmp_path, "pull", "https://quay.io") == ["https://registry.example.com",
                                                                            "https://quay.io"]
    assert hosts.base_urls("quay.io", tmp_path, "push", "https://quay.io") == ["https://quay.io"]


def test_the_port_directory_with_underscores_wins(tmp_path):
    write(tmp_path, "localhost:5000", 'server = "http://127.0.0.1:6001"\n')
    write(tmp_path, "localhost_5000_", 'server = "http://127.0.0.1:6002"\n')
    assert hosts.endpoints("localhost:5000", tmp_path, "push") == ["http://127.0.0.1:6002"]


def test_a_server_that_may_not_push_is_said(tmp_path):
    write(tmp_path, "ghcr.io", 'server = "https://ghcr.io"\ncapabilities = ["pull", "resolve"]\n')
    with pytest.raises(LabkitError, match=r"^push ghcr.io: no host in .* may push \(capabilities\)$"):
        hosts.endpoints("ghcr.io", tmp_path, "push")


@pytest.mark.parametrize("text,message", [
    ('server = "http://x\n', "not valid TOML"),
    ('server = 5\n', "`server` must be a URL"),
    ('server = "ftp://x"\n', r"is not an http\(s\) URL"),
    ('[host."https://m"]\n  capabilities = ["pull", "fly"]\n', r"unknown capabilities \['fly'\]"),
    ('[host."https://m"]\n  capabilities = "pull"\n', "capabilities must be a list"),
])
def test_a_bad_file_is_a_clear_error_naming_it(tmp_path, text, message):
    write(tmp_path, "ghcr.io", text)
    with pytest.raises(LabkitError, match=message) as e:
        hosts.hosts_for("ghcr.io", tmp_path)
    assert str(hosts.config_dir(tmp_path) / "ghcr.io" / "hosts.toml") in str(e.value)


def test_redirect_written_and_removed(tmp_path):
    path = hosts.write_redirect(tmp_path, "localhost:5000", "http://127.0.0.1:61234", "a note\non two lines")
    assert path.read_text() == ('# a note\n# on two lines\nserver = "http://127.0.0.1:61234"\n\n'
                                '[host."http://127.0.0.1:61234"]\n  capabilities = ["pull", "resolve", "push"]\n')
    assert hosts.endpoints("localhost:5000", tmp_path, "pull") == ["http://127.0.0.1:61234"]
    assert hosts.remove_redirect(tmp_path, "localhost:5000") and not path.parent.exists()
    assert not hosts.remove_redirect(tmp_path, "localhost:5000")
