"""Shared test helpers, one module per job (tests/conftest.py turns the common ones into fixtures).

- imagefactory: small deterministic OCI images (layers, config, manifest, index) built with plain json.
- scriptedserver: a scripted registry on 127.0.0.1 for fault tests (cut connections, 429s, wrong bytes).
- registries: real registries on free loopback ports: docker-registry (plain, htpasswd, token, proxy)
  and labkit's own lab registry, and seeding them.
- tokenserver: a token server signing the ES256 JWTs docker-registry accepts (with `cryptography`).
- skopeo: skopeo as the peer that pushes into and reads from those registries.
- peers: the one place that decides whether a peer tool is here (skip, or fail under LABKIT_REQUIRE_PEERS=1),
  the collection gate for @pytest.mark.interop(...) / browser, and running a peer.
- net: free loopback ports.
- trees: scanning a directory tree to compare labkit's output with a peer's.
- cli: the labkit command in-process, a stocked lab, and a home's state (to show a failed command changed nothing).
- gounits: docker/go-units sizes written out, the oracle for Docker's size columns.
- markup: the text a widget's HTML shows (tags dropped, entities decoded).
- lessons: a lab in the state a notebook has reached when its exercises come.

Test modules import from here, never from each other (test_registry_transport re-collects the tests of
test_push and test_lab_registry on purpose: that is a re-run, not a helper).
"""
