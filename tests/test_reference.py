"""labkit.reference against the cases of distribution/reference's own tests (normalize_test.go,
reference_test.go, regexp_test.go, v0.6), read through ParseNormalizedNamed, plus a round-trip property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from labkit.digest import Digest
from labkit.errors import InvalidReference
from labkit.reference import Reference, parse

S256F = "sha256:" + "f" * 64
S512F = "sha512:" + "f" * 128
DBCC = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
BUSY = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
BE17 = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
A255 = "a/" * 127 + "a"

# input, domain, path, tag, digest, familiar string (FamiliarString: no default tag added)
VALID = [
    # reference_test.go TestReferenceParse (the same inputs, normalized)
    ("test_com", "docker.io", "library/test_com", None, None, "test_com"),
    ("test.com:tag", "docker.io", "library/test.com", "tag", None, "test.com:tag"),
    ("test.com:5000", "docker.io", "library/test.com", "5000", None, "test.com:5000"),
    ("test.com/repo:tag", "test.com", "repo", "tag", None, "test.com/repo:tag"),
    ("test:5000/repo", "test:5000", "repo", None, None, "test:5000/repo"),
    ("test:5000/repo:tag", "test:5000", "repo", "tag", None, "test:5000/repo:tag"),
    (f"test:5000/repo@{S256F}", "test:5000", "repo", None, S256F, f"test:5000/repo@{S256F}"),
    (f"test:5000/repo:tag@{S256F}", "test:5000", "repo", "tag", S256F, f"test:5000/repo:tag@{S256F}"),
    ("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", None, "lowercase:Uppercase"),
    (A255 + ":tag-puts-this-over-max", "docker.io", A255, "tag-puts-this-over-max", None,
     A255 + ":tag-puts-this-over-max"),
    ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", None, None,
     "sub-dom1.foo.com/bar/baz/quux"),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag", None,
     "sub-dom1.foo.com/bar/baz/quux:some-long-tag"),
    ("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
     "test.example.com", None, "b.gcr.io/test.example.com/my-app:test.example.com"),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", None,
     "xn--n3h.com/myimage:xn--n3h.com"),
    (f"xn--7o8h.com/myimage:xn--7o8h.com@{S512F}", "xn--7o8h.com", "myimage", "xn--7o8h.com", S512F,
     f"xn--7o8h.com/myimage:xn--7o8h.com@{S512F}"),
    ("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", None, "foo_bar.com:8080"),
    ("foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", None, "foo/foo_bar.com:8080"),
    ("192.168.1.1", "docker.io", "library/192.168.1.1", None, None, "192.168.1.1"),
    ("192.168.1.1:tag", "docker.io", "library/192.168.1.1", "tag", None, "192.168.1.1:tag"),
    ("192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000", None, "192.168.1.1:5000"),
    ("192.168.1.1/repo", "192.168.1.1", "repo", None, None, "192.168.1.1/repo"),
    ("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", None, None, "192.168.1.1:5000/repo"),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", None, "192.168.1.1:5000/repo:5050"),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", None, None, "[2001:db8::1]/repo"),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", None,
     "[2001:db8:1:2:3:4:5:6]/repo:tag"),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", None, None, "[2001:db8::1]:5000/repo"),
    ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", None, "[2001:db8::1]:5000/repo:tag"),
    (f"[2001:db8::1]:5000/repo@{S256F}", "[2001:db8::1]:5000", "repo", None, S256F,
     f"[2001:db8::1]:5000/repo@{S256F}"),
    (f"[2001:db8::1]:5000/repo:tag@{S256F}", "[2001:db8::1]:5000", "repo", "tag", S256F,
     f"[2001:db8::1]:5000/repo:tag@{S256F}"),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", None, None, "[2001:db8::]:5000/repo"),
    ("[::1]:5000/repo", "[::1]:5000", "repo", None, None, "[::1]:5000/repo"),
    # normalize_test.go TestParseRepositoryInfo (familiar, full and ambiguous spellings)
    ("fooo/bar", "docker.io", "fooo/bar", None, None, "fooo/bar"),
    ("docker.io/fooo/bar", "docker.io", "fooo/bar", None, None, "fooo/bar"),
    ("index.docker.io/fooo/bar", "docker.io", "fooo/bar", None, None, "fooo/bar"),
    ("ubuntu", "docker.io", "library/ubuntu", None, None, "ubuntu"),
    ("library/ubuntu", "docker.io", "library/ubuntu", None, None, "ubuntu"),
    ("docker.io/library/ubuntu", "docker.io", "library/ubuntu", None, None, "ubuntu"),
    ("nonlibrary/ubuntu", "docker.io", "nonlibrary/ubuntu", None, None, "nonlibrary/ubuntu"),
    ("other/library", "docker.io", "other/library", None, None, "other/library"),
    ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", "private/moonbase", None, None,
     "127.0.0.1:8000/private/moonbase"),
    ("127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase", None, None, "127.0.0.1:8000/privatebase"),
    ("example.com/private/moonbase", "example.com", "private/moonbase", None, None, "example.com/private/moonbase"),
    ("example.com/privatebase", "example.com", "privatebase", None, None, "example.com/privatebase"),
    ("example.com:8000/private/moonbase", "example.com:8000", "private/moonbase", None, None,
     "example.com:8000/private/moonbase"),
    ("example.com:8000/privatebasee", "example.com:8000", "privatebasee", None, None,
     "example.com:8000/privatebasee"),
    ("index.docker.io/library/ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base", None, None,
     "ubuntu-12.04-base"),
    ("docker.io/foo", "docker.io", "library/foo", None, None, "foo"),
    ("library/foo/bar", "docker.io", "library/foo/bar", None, None, "library/foo/bar"),
    ("store/foo/bar", "docker.io", "store/foo/bar", None, None, "store/foo/bar"),
    ("Foo/bar", "Foo", "bar", None, None, "Foo/bar"),
    ("FOO/bar", "FOO", "bar", None, None, "FOO/bar"),
    # normalize_test.go TestNormalizedSplitHostname
    ("test_com/foo", "docker.io", "test_com/foo", None, None, "test_com/foo"),
    ("docker/migrator", "docker.io", "docker/migrator", None, None, "docker/migrator"),
    ("test.com:8080/foo", "test.com:8080", "foo", None, None, "test.com:8080/foo"),
    ("test-com:8080/foo", "test-com:8080", "foo", None, None, "test-com:8080/foo"),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", None, None, "xn--n3h.com:18080/foo"),
    ("docker.io/library/foo/bar", "docker.io", "library/foo/bar", None, None, "library/foo/bar"),
    # normalize_test.go TestValidateReferenceName / TestValidateRemoteName (valid)
    ("127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", None, None, "127.0.0.1:5000/docker/docker"),
    ("192.168.0.1:80", "docker.io", "library/192.168.0.1", "80", None, "192.168.0.1:80"),
    ("192.168.0.1:8/debian", "192.168.0.1:8", "debian", None, None, "192.168.0.1:8/debian"),
    ("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "docker.io",
     "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", None, None,
     "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"),
    ("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", None, None, "[fc00::1]:5000/docker/docker"),
    ("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian", None, None,
     "[fc00:1:2:3:4:5:6:7]:5000/library/debian"),
    (f"docker.io/{HEX64}", "docker.io", f"library/{HEX64}", None, None, HEX64),
    ("Docker/docker", "Docker", "docker", None, None, "Docker/docker"),
    ("DOCKER/docker", "DOCKER", "docker", None, None, "DOCKER/docker"),
    ("docker---rules/docker", "docker.io", "docker---rules/docker", None, None, "docker---rules/docker"),
    ("d/docker", "docker.io", "d/docker", None, None, "d/docker"),
    ("jess/t", "docker.io", "jess/t", None, None, "jess/t"),
    ("dock__er/docker", "docker.io", "dock__er/docker", None, None, "dock__er/docker"),
    # normalize_test.go TestParseAnyReference / TestParseReferenceWithTagAndDigest (named cases)
    (f"redis@{DBCC}", "docker.io", "library/redis", None, DBCC, f"redis@{DBCC}"),
    (f"dmcgowan/myapp@{DBCC}", "docker.io", "dmcgowan/myapp", None, DBCC, f"dmcgowan/myapp@{DBCC}"),
    ("docker.io/mcgowan/myapp:latest", "docker.io", "mcgowan/myapp", "latest", None, "mcgowan/myapp:latest"),
    (DBCC[7:-1], "docker.io", "library/" + DBCC[7:-1], None, None, DBCC[7:-1]),  # 63 hex: a name
    ("dbcc1", "docker.io", "library/dbcc1", None, None, "dbcc1"),
    (f"busybox:latest@{BUSY}", "docker.io", "library/busybox", "latest", BUSY, f"busybox:latest@{BUSY}"),
    # regexp_test.go TestReferenceRegexp / TestFullNameRegexp, normalized
    (f"localhost:8080@{BE17}", "docker.io", "library/localhost", "8080", BE17, f"localhost:8080@{BE17}"),
    (f"localhost@{BE17}", "docker.io", "library/localhost", None, BE17, f"localhost@{BE17}"),
    (f"localhost:8080/name@{BE17}", "localhost:8080", "name", None, BE17, f"localhost:8080/name@{BE17}"),
    ("registry.io/foo/project--id.module--name.ver---sion--name", "registry.io",
     "foo/project--id.module--name.ver---sion--name", None, None,
     "registry.io/foo/project--id.module--name.ver---sion--name"),
    ("example.com/some_separator__underscore/myimage", "example.com", "some_separator__underscore/myimage",
     None, None, "example.com/some_separator__underscore/myimage"),
    ("Asdf.com/foo/bar", "Asdf.com", "foo/bar", None, None, "Asdf.com/foo/bar"),
    # the lab's own examples
    ("localhost:5000/wordpress", "localhost:5000", "wordpress", None, None, "localhost:5000/wordpress"),
    ("localhost/foo", "localhost", "foo", None, None, "localhost/foo"),
    ("localhost:5000", "docker.io", "library/localhost", "5000", None, "localhost:5000"),
    ("debian:jessie", "docker.io", "library/debian", "jessie", None, "debian:jessie"),
    # a 64-hex *tag* is fine: only a bare 64-hex string is refused
    (f"sha256:{DBCC[7:]}", "docker.io", "library/sha256", DBCC[7:], None, f"sha256:{DBCC[7:]}"),
    # Go's Parse re-splits the name: "foo_bar.com" is not a valid host, so it stays in the path
    # and the domain is empty (ParseNormalizedNamed returns Domain() == "" for it too).
    ("foo_bar.com/x", "", "foo_bar.com/x", None, None, "foo_bar.com/x"),
]


@pytest.mark.parametrize("text,domain,path,tag,digest,familiar", VALID, ids=[v[0][:60] for v in VALID])
def test_parse_valid(text, domain, path, tag, digest, familiar):
    r = parse(text)
    assert (r.domain, r.path, r.tag) == (domain, path, tag)
    assert r.digest == (Digest.parse(digest) if digest else None)
    assert r._suffixed(r.familiar_name) == familiar
    name = f"{domain}/{path}" if domain else path
    assert r.name == name
    assert str(r) == name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assert parse(str(r)) == r
    if familiar != HEX64:  # Go too: FamiliarString gives the bare hex, which ParseNormalizedNamed refuses
        assert parse(familiar) == r
    assert Reference.parse(text) == r


# input, a piece of the message (the rule that failed)
INVALID = [
    # reference_test.go TestReferenceParse
    ("", "invalid reference format"),
    (":justtag", "invalid reference format"),
    (f"@{S256F}", "invalid reference format"),
    ("repo@sha256:" + "f" * 34, "sha256 needs 64"),
    ("validname@invaliddigest:" + "f" * 64, "unsupported algorithm invaliddigest"),
    ("Uppercase:tag", "repository name (library/Uppercase) must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "repository name (Uppercase/lowercase) must be lowercase"),
    ("a/" * 128 + "a:tag", "name too long (max 255)"),
    ("aa/asdf$$^/aa", "invalid reference format"),
    ("[2001:db8::1]", "invalid reference format"),
    ("[2001:db8::1]:5000", "invalid reference format"),
    ("[2001:db8::1]:tag", "invalid reference format"),
    ("[fe80::1%eth0]:5000/repo", "invalid reference format"),
    ("[fe80::1%@invalidzone]:5000/repo", "invalid reference format"),
    # normalize_test.go TestValidateReferenceName (invalid)
    ("https://github.com/docker/docker", "invalid reference format"),
    ("docker/Docker", "repository name (docker/Docker) must be lowercase"),
    ("-docker", "invalid reference format"),
    ("-docker/docker", "invalid reference format"),
    ("-docker.io/docker/docker", "invalid reference format"),
    ("docker///docker", "invalid reference format"),
    ("docker.io/docker/Docker", "repository name (docker/Docker) must be lowercase"),
    ("docker.io/docker///docker", "invalid reference format"),
    ("[fc00::1]", "invalid reference format"),
    ("[fc00::1]:5000", "invalid reference format"),
    ("fc00::1:5000/debian", "invalid reference format"),
    ("[fe80::1%eth0]:5000/debian", "invalid reference format"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid reference format"),
    (HEX64, "64-character hexadecimal"),
    # normalize_test.go TestValidateRemoteName (invalid)
    ("docker-/docker", "invalid reference format"),
    ("-docker-/docker", "invalid reference format"),
    ("____/____", "invalid reference format"),
    ("_docker/_docker", "invalid reference format"),
    ("dock..er/docker", "invalid reference format"),
    ("dock_.er/docker", "invalid reference format"),
    ("dock-.er/docker", "invalid reference format"),
    ("docker/", "invalid reference format"),
    ("_".join(["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"] * 4) + "/docker",
     "name too long (max 255)"),
    ("-foo", "invalid reference format"),  # TestInvalidReferenceComponents
    # regexp_test.go
    ("registry.com:8080/myapp:invalid~tag", "invalid tag (invalid~tag)"),
    ("bad_hostname.com:8080/myapp:tag", "invalid reference format"),
    (f"localhost:http/name@{BE17}", "invalid reference format"),
    ("registry.com:8080/myapp@bad", "invalid reference format: digest (bad)"),
    ("registry.com:8080/myapp@2bad", "invalid reference format: digest (2bad)"),
    ("registry.com:8080/myapp@sha256:badbadbadbad", "invalid reference format: digest"),
    ("foo.com/", "invalid reference format"),
    ("a//a/a", "invalid reference format"),
    ("foo.com:http/bar", "invalid reference format"),
    ("example.com/__underscore/myimage", "invalid reference format"),
    ("example.com/.dots/myimage", "invalid reference format"),
    ("docker./docker", "invalid reference format"),
    # uppercase in a first element that is not a valid host: Parse's own lowercase rule
    ("Foo_bar/x", "repository name must be lowercase"),
    # tags and digests
    ("ubuntu:-x", "invalid tag (-x)"),
    ("ubuntu:.x", "invalid tag (.x)"),
    ("ubuntu:" + "t" * 129, "invalid tag"),
    ("ubuntu@sha256:" + "A" * 64, "sha256 needs 64 lowercase hex characters"),
    ("ubuntu@md5:" + "a" * 32, "unsupported algorithm md5"),
    ("ubuntu:x@SHA256:" + "a" * 64, "invalid digest"),
    # Python-only traps: `$` before a newline, Unicode \w, non-strings
    ("ubuntu\n", "invalid reference format"),
    ("ubuntu:lat\u00e9st", "invalid tag"),
    ("\u212a", "must be lowercase"),  # KELVIN SIGN lowercases to an ASCII k, in Go too
    (None, "not a string"),
]


@pytest.mark.parametrize("text,rule", INVALID, ids=[repr(v[0])[:60] for v in INVALID])
def test_parse_invalid(text, rule):
    with pytest.raises(InvalidReference) as exc:
        parse(text)
    msg = str(exc.value)
    assert msg.startswith("invalid reference ")
    assert rule in msg
    assert isinstance(exc.value, ValueError)


def test_error_message_names_input_and_rule():
    with pytest.raises(InvalidReference, match=r'^invalid reference "library/Ubuntu": '
                                               r'repository name \(library/Ubuntu\) must be lowercase$'):
        parse("library/Ubuntu")


def test_length_limit_is_on_the_path_only():
    # distribution/reference v0.6 (PR #9): the domain no longer counts towards the 255 characters.
    assert parse("registry.example.com:5000/" + A255).path == A255
    with pytest.raises(InvalidReference, match="name too long"):
        parse("registry.example.com:5000/" + A255 + "a")


# TestParseDockerRef inputs: canonical adds :latest only when there is neither tag nor digest.
CANONICAL = [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    (f"busybox@{BE17}", f"docker.io/library/busybox@{BE17}", f"busybox@{BE17}"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("gcr.io/library/busybox", "gcr.io/library/busybox:latest", "gcr.io/library/busybox:latest"),
    (f"gcr.io/library/busybox:latest@{BE17}", f"gcr.io/library/busybox:latest@{BE17}",
     f"gcr.io/library/busybox:latest@{BE17}"),
    ("ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("localhost:5000/wordpress", "localhost:5000/wordpress:latest", "localhost:5000/wordpress:latest"),
]


@pytest.mark.parametrize("text,canonical,familiar", CANONICAL)
def test_canonical_and_familiar(text, canonical, familiar):
    r = parse(text)
    assert r.canonical == canonical
    assert r.familiar == familiar
    assert str(r.with_default_tag()) == canonical
    assert parse(canonical) == r.with_default_tag()


def test_parse_does_not_add_default_tag():
    r = parse("ubuntu")
    assert r.tag is None and r.digest is None
    assert str(r) == "docker.io/library/ubuntu"
    assert r.name == "docker.io/library/ubuntu"
    assert r.familiar_name == "ubuntu"
    assert r.with_default_tag().tag == "latest"
    tagged = parse("ubuntu:22.04")
    assert tagged.with_default_tag() is tagged


# reference_test.go TestWithTag / TestWithDigest (with full-length digests: labkit keeps only valid ones)
def test_with_tag_and_digest():
    assert str(parse("test.com/foo").with_tag("tag")) == "test.com/foo:tag"
    assert str(parse("foo").with_tag("tag2")) == "docker.io/library/foo:tag2"
    assert str(parse("test.com:8000/foo").with_tag("TAG5")) == "test.com:8000/foo:TAG5"
    both = parse("test.com:8000/foo").with_digest(DBCC).with_tag("TAG5")
    assert str(both) == f"test.com:8000/foo:TAG5@{DBCC}"
    assert str(parse("test.com:8000/foo:TAG5").with_digest(Digest.parse(DBCC))) == f"test.com:8000/foo:TAG5@{DBCC}"
    assert parse(str(both)) == both
    with pytest.raises(InvalidReference, match="invalid tag"):
        parse("busybox").with_tag("-foo")
    with pytest.raises(InvalidReference, match="invalid digest"):
        parse("busybox").with_digest("foo")
    with pytest.raises(InvalidReference, match="invalid digest"):
        parse("busybox").with_digest("sha256:1234567890098765432112345667890098765")


def test_reference_is_a_frozen_hashable_value():
    r = parse("ubuntu:22.04")
    assert {r: 1}[parse("docker.io/library/ubuntu:22.04")] == 1
    with pytest.raises(Exception):
        r.tag = "x"  # type: ignore[misc]


def test_constructor_accepts_normalized_fields_only():
    assert Reference("docker.io", "library/ubuntu", "22.04") == parse("ubuntu:22.04")
    assert Reference("localhost:5000", "x", None, DBCC).digest == Digest.parse(DBCC)
    for args in [("docker.io", "ubuntu"), ("index.docker.io", "library/ubuntu"), ("", "ubuntu"),
                 ("docker.io", "library/Ubuntu"), ("exa mple.com", "x"), ("example.com", "x", "-bad")]:
        with pytest.raises(InvalidReference):
            Reference(*args)


NAMESPACE = [
    ("ubuntu", "official", "registry-1.docker.io"),
    ("docker.io/library/debian:jessie", "official", "registry-1.docker.io"),
    ("index.docker.io/library/debian", "official", "registry-1.docker.io"),
    ("jupyter/base-notebook", "user", "registry-1.docker.io"),
    ("docker.io/dmcgowan/myapp", "user", "registry-1.docker.io"),
    ("library/foo/bar", "user", "registry-1.docker.io"),
    ("localhost:5000/wordpress", "self-hosted", "localhost:5000"),
    ("127.0.0.1:5000/library/debian", "self-hosted", "127.0.0.1:5000"),
    ("gcr.io/library/busybox", "self-hosted", "gcr.io"),
    ("quay.io/coreos/etcd", "self-hosted", "quay.io"),
    ("[::1]:5000/x", "self-hosted", "[::1]:5000"),
    ("Foo/bar", "self-hosted", "Foo"),
]


@pytest.mark.parametrize("text,kind,host", NAMESPACE)
def test_namespace_kind_and_api_host(text, kind, host):
    r = parse(text)
    assert r.namespace_kind == kind
    assert r.api_host == host


@pytest.mark.parametrize("text,ref", [
    ("ubuntu", "latest"),
    ("ubuntu:22.04", "22.04"),
    (f"ubuntu@{DBCC}", DBCC),
    (f"ubuntu:22.04@{DBCC}", DBCC),
])
def test_ref_or_digest(text, ref):
    assert parse(text).ref_or_digest == ref


# ---- property: generate references from the grammar, check normalization and round-trips ----

_alnum = st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True)
_sep = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def _component(draw):
    parts = [draw(_alnum)]
    for _ in range(draw(st.integers(0, 3))):
        parts += [draw(_sep), draw(_alnum)]
    return "".join(parts)


_port = st.one_of(st.just(""), st.integers(0, 99999).map(lambda p: f":{p}"))
_dcomp = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
_domain = st.one_of(
    st.just(None),  # no host: docker.io
    _port.map(lambda p: "localhost" + p),
    st.tuples(st.lists(_dcomp, min_size=2, max_size=4), _port).map(lambda t: ".".join(t[0]) + t[1]),
    st.tuples(_dcomp, st.integers(0, 65535)).map(lambda t: f"{t[0]}:{t[1]}"),
    st.tuples(st.from_regex(r"[a-fA-F0-9:]{0,6}:[a-fA-F0-9:]{0,6}", fullmatch=True), _port).map(lambda t: f"[{t[0]}]{t[1]}"),
    st.from_regex(r"[a-z0-9]{0,3}[A-Z][a-zA-Z0-9]{0,3}", fullmatch=True),  # uppercase: a host
    st.sampled_from(["docker.io", "index.docker.io"]),
)
_tag = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True))
_digest = st.one_of(st.none(), st.tuples(st.binary(max_size=8), st.sampled_from(["sha256", "sha384", "sha512"]))
                    .map(lambda t: Digest.of(*t)))


@st.composite
def _reference(draw):
    domain = draw(_domain)
    comps = draw(st.lists(_component(), min_size=1, max_size=4))
    if domain is None and len(comps) > 1:
        # a first element with "." or named localhost would be read as a host
        first = comps[0]
        if "." in first or first == "localhost":
            comps[0] = first.replace(".", "-") + "x"
    tag, digest = draw(_tag), draw(_digest)
    path = "/".join(comps)
    if domain is None:
        want_domain, want_path = "docker.io", path
    elif domain in ("docker.io", "index.docker.io"):
        want_domain, want_path = "docker.io", path
    else:
        want_domain, want_path = domain, path
    if want_domain == "docker.io" and "/" not in want_path:
        want_path = "library/" + want_path
    text = (f"{domain}/" if domain else "") + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    return text, (want_domain, want_path, tag, digest)


def _familiar_is_ambiguous(r: Reference) -> bool:
    """Return True when Go's familiar form of `r` would itself read as a host (see the test below)."""
    first, sep, _ = r.familiar_name.partition("/")
    return r.domain == "docker.io" and bool(sep) and ("." in first or first == "localhost")


def test_familiar_form_of_a_dotted_hub_namespace_is_ambiguous_as_in_go():
    # FamiliarName strips docker.io even when the namespace has a dot; re-parsing reads it as a host.
    r = parse("docker.io/a.b/c")
    assert (r.domain, r.path, r.familiar_name) == ("docker.io", "a.b/c", "a.b/c")
    assert parse(r.familiar_name).domain == "a.b"
    assert _familiar_is_ambiguous(r)


@settings(max_examples=400, deadline=None)
@given(_reference())
def test_property_grammar_round_trip(case):
    text, want = case
    r = parse(text)
    assert (r.domain, r.path, r.tag, r.digest) == want
    assert parse(str(r)) == r
    assert Reference(r.domain, r.path, r.tag, r.digest) == r
    if not _familiar_is_ambiguous(r):
        assert parse(r.familiar_name).name == r.name
        assert parse(r._suffixed(r.familiar_name)) == r
        assert parse(r.familiar) == r.with_default_tag()
    assert parse(r.canonical) == r.with_default_tag()


@settings(max_examples=200, deadline=None)
@given(_reference(), st.data())
def test_property_uppercase_path_is_rejected(case, data):
    text, (domain, path, tag, digest) = case
    r = parse(text)
    letters = [i for i, ch in enumerate(r.path) if ch.isalpha()]
    if not letters:
        return
    i = data.draw(st.sampled_from(letters))
    bad_path = r.path[:i] + r.path[i].upper() + r.path[i + 1:]
    bad = Reference._from_parts((r.domain, bad_path, r.tag, r.digest))
    with pytest.raises(InvalidReference, match="lowercase"):
        parse(str(bad))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_property_any_text_parses_or_raises_invalid_reference(text):
    try:
        r = parse(text)
    except InvalidReference:
        return
    assert parse(str(r)) == r


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abAB01._-:/@[]", max_size=30))
def test_property_grammar_alphabet_parses_or_raises_and_round_trips(text):
    try:
        r = parse(text)
    except InvalidReference as e:
        assert str(e).startswith("invalid reference ")
        return
    assert parse(str(r)) == r
    assert r.path == r.path.lower()
