"""Shared test helpers, one module per job (tests/conftest.py turns the common ones into fixtures).

- imagefactory: small deterministic OCI images (layers, config, manifest, index) built with plain json.
- scriptedserver: a scripted registry on 127.0.0.1 for fault tests (cut connections, 429s, wrong bytes).
- registries: real registries on free loopback ports: docker-registry (plain, htpasswd, token, proxy)
  and labkit's own lab registry, and seeding them.
- tokenserver: a token server signing the ES256 JWTs docker-registry accepts.
- peers: whether a peer tool is installed (skip, or fail under LABKIT_REQUIRE_PEERS=1), and running it.
- trees: scanning a directory tree to compare labkit's output with a peer's.
- markup: the text a widget's HTML shows (tags dropped, entities decoded).

Test modules import from here, never from each other.
"""
