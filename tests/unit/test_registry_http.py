"""Reading tags over the registry's HTTP API: a loopback server stands in for the registry,
serving the answers each test writes down, and writing down what it was asked."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.unit.fakes import RecordingShell
from xbuild.core.answers import Published
from xbuild.core.errors import RegistryError
from xbuild.core.refs import Reference
from xbuild.engine.retry import RetryPolicy
from xbuild.host.cmd import Completed
from xbuild.host.published import PublishedReader
from xbuild.host.registry_http import (
    MAX_MANIFEST,
    NeedsCredentials,
    RegistryHttp,
    Transient,
    path_of,
)

IMAGE = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass
class Served:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Asked:
    path: str
    headers: Mapping[str, str]


class Server:
    """Answers GETs from `routes` (a path's answers are served in turn, the last one again);
    everything else is a 404. `asked` holds each request."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Served]] = {}
        self.asked: list[Asked] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.asked.append(Asked(self.path, dict(self.headers)))
                answers = server.routes.get(self.path, [Served(404, b'{"errors": []}')])
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                cut = answer.headers.get("X-Cut-After")  # say more than is sent, then hang up
                self.send_header("Content-Length", str(len(answer.body) + bool(cut)))
                self.end_headers()
                self.wfile.write(answer.body)
                self.close_connection = True

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, path: str, *answers: Served) -> None:
        self.routes[path] = list(answers)

    def paths(self) -> list[str]:
        return [a.path for a in self.asked]


@pytest.fixture
def server() -> Iterator[Server]:
    served = Server()
    thread = threading.Thread(target=served.httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def image(server: Server, labels: Mapping[str, str], repo: str = "ns/app") -> bytes:
    """Serves `<repo>:v1` as a single image whose config has `labels`; returns its manifest."""
    config = json.dumps({"architecture": "arm64", "config": {"Labels": labels}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": IMAGE,
                           "config": {"digest": digest(config), "size": len(config)}}).encode()
    server.serve(f"/v2/{repo}/manifests/v1", Served(200, manifest, {"Content-Type": IMAGE}))
    server.serve(f"/v2/{repo}/blobs/{digest(config)}", Served(200, config))
    return manifest


def ref(server: Server, name: str = "ns/app:v1") -> Reference:
    return Reference.parse(f"{server.host}/{name}")


def reader(**kw: object) -> RegistryHttp:
    return RegistryHttp(insecure=lambda _registry: True, certs_d=Path("/nonexistent"),
                        **kw)  # type: ignore[arg-type]


def test_a_single_image_is_its_manifest_digest_and_its_config_labels(server: Server) -> None:
    manifest = image(server, {"org.xbuild.identity": "abc"})
    got = reader().read(ref(server))
    assert got == Published(digest=digest(manifest), labels={"org.xbuild.identity": "abc"})
    assert server.asked[0].headers["Accept"].count("application/") == 4


def test_a_list_is_its_digest_and_its_entries(server: Server) -> None:
    entries = ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    body = json.dumps({"mediaType": INDEX, "manifests": [
        {"digest": d, "platform": {"architecture": "amd64", "os": "linux"}} for d in entries]
    }).encode()
    server.serve("/v2/ns/app/manifests/v1", Served(200, body))
    assert reader().read(ref(server)) == Published(digest=digest(body), entries=frozenset(entries))
    assert server.paths() == ["/v2/ns/app/manifests/v1"]  # a list's entries are not read


def test_a_tag_that_does_not_exist_is_none(server: Server) -> None:
    assert reader().read(ref(server, "ns/app:gone")) is None


def test_an_anonymous_bearer_token_is_fetched_once_per_repository(server: Server) -> None:
    manifest = image(server, {"a": "b"})
    denied = Served(401, b"", {"WWW-Authenticate": f'Bearer realm="http://{server.host}/token",'
                                                    'service="reg"'})
    granted = Served(200, manifest, {"Content-Type": IMAGE})
    server.serve("/v2/ns/app/manifests/v1", denied, granted, granted)
    server.serve("/token?service=reg&scope=repository%3Ans%2Fapp%3Apull",
                 Served(200, b'{"token": "t0k"}'))
    read = reader()
    read.read(ref(server))
    read.read(ref(server))
    token_requests = [a for a in server.asked if a.path.startswith("/token")]
    assert len(token_requests) == 1
    assert "Authorization" not in token_requests[0].headers  # anonymous: no credential sent
    authorized = [a.headers.get("Authorization") for a in server.asked[2:]]
    assert authorized == ["Bearer t0k"] * len(authorized)


def test_basic_auth_needs_the_docker_clis_credentials(server: Server) -> None:
    server.serve("/v2/ns/app/manifests/v1",
                 Served(401, b"", {"WWW-Authenticate": 'Basic realm="guarded"'}))
    with pytest.raises(NeedsCredentials):
        reader().read(ref(server))


def test_a_token_realm_over_http_is_not_trusted_for_an_https_registry() -> None:
    challenge = {"WWW-Authenticate": 'Bearer realm="http://evil.example/token"'}
    asked: list[str] = []

    def get(request: object, _limit: int) -> object:
        from xbuild.host.registry_http import Answer
        asked.append(request.full_url)  # type: ignore[attr-defined]
        return Answer(401, challenge, b"")

    with pytest.raises(NeedsCredentials):
        RegistryHttp(insecure=lambda _r: False, get=get,  # type: ignore[arg-type]
                     certs_d=Path("/nonexistent")).read(Reference.parse("reg.example/ns/app:v1"))
    assert asked == ["https://reg.example/v2/ns/app/manifests/v1"]  # the realm was never asked


def test_a_registry_with_its_own_ca_is_left_to_skopeo(tmp_path: Path) -> None:
    (tmp_path / "reg.example:5443").mkdir()
    with pytest.raises(NeedsCredentials):
        RegistryHttp(insecure=lambda _r: False, certs_d=tmp_path).read(
            Reference.parse("reg.example:5443/ns/app:v1"))


@pytest.mark.parametrize("served", [
    Served(200, b"[1, 2]"),
    Served(200, b"not json"),
    Served(200, b'{"config": {"digest": "../../etc"}}'),
    Served(418, b""),
])
def test_a_bad_manifest_answer_is_a_registry_error(server: Server, served: Served) -> None:
    server.serve("/v2/ns/app/manifests/v1", served)
    with pytest.raises(RegistryError) as raised:
        reader().read(ref(server))
    assert not isinstance(raised.value, Transient)
    assert str(ref(server)) in str(raised.value)


def test_a_manifest_that_is_not_the_digest_it_is_served_under_is_refused(
        server: Server) -> None:
    manifest = image(server, {"a": "b"})
    server.serve("/v2/ns/app/manifests/v1",
                 Served(200, manifest, {"Docker-Content-Digest": "sha256:" + "0" * 64}))
    with pytest.raises(RegistryError, match="not the one it names"):
        reader().read(ref(server))
    pinned = Reference.parse(f"{server.host}/ns/app@sha256:{'1' * 64}")
    server.serve(f"/v2/ns/app/manifests/sha256:{'1' * 64}", Served(200, manifest))
    with pytest.raises(RegistryError, match="not the one it names"):
        reader().read(pinned)


def test_a_config_that_is_not_its_digest_is_refused(server: Server) -> None:
    image(server, {"a": "b"})
    blob = next(p for p in server.routes if "/blobs/" in p)
    server.serve(blob, Served(200, b'{"config": {"Labels": {"a": "forged"}}}'))
    with pytest.raises(RegistryError, match="served a config that is not"):
        reader().read(ref(server))


def test_an_oversized_manifest_is_refused_not_truncated(server: Server) -> None:
    server.serve("/v2/ns/app/manifests/v1", Served(200, b" " * (MAX_MANIFEST + 1)))
    with pytest.raises(RegistryError, match="larger than"):
        reader().read(ref(server))


def test_the_token_is_not_sent_on_to_a_blob_redirect(server: Server) -> None:
    manifest = image(server, {"a": "b"})
    blob = next(p for p in server.routes if "/blobs/" in p)
    config = server.routes[blob][0].body
    server.serve(blob, Served(307, b"", {"Location": f"http://{server.host}/store/cfg"}))
    server.serve("/store/cfg", Served(200, config))
    server.serve("/v2/ns/app/manifests/v1",
                 Served(401, b"", {"WWW-Authenticate": f'Bearer realm="http://{server.host}/t"'}),
                 Served(200, manifest))
    server.serve("/t?service=&scope=repository%3Ans%2Fapp%3Apull", Served(200, b'{"token": "s"}'))
    reader().read(ref(server))
    sent = {a.path: a.headers.get("Authorization") for a in server.asked}
    assert sent[blob] == "Bearer s"
    assert sent["/store/cfg"] is None


def test_transient_faults_are_retried_until_the_answer(server: Server) -> None:
    manifest = image(server, {"a": "b"})
    server.serve("/v2/ns/app/manifests/v1", Served(503), Served(429), Served(200, manifest))
    registry = PublishedReader(RecordingShell(), RetryPolicy(first_wait=0.01, max_wait=0.01),
                        native=reader())
    assert registry.read(ref(server)) == Published(digest=digest(manifest), labels={"a": "b"})
    assert server.paths().count("/v2/ns/app/manifests/v1") == 3


def test_an_answer_cut_short_is_transient(server: Server) -> None:
    server.serve("/v2/ns/app/manifests/v1", Served(200, b"{}", {"X-Cut-After": "yes"}))
    with pytest.raises(Transient, match="cannot reach"):
        reader().read(ref(server))


def test_an_unreachable_registry_is_transient() -> None:
    with pytest.raises(Transient, match=r"cannot reach 127\.0\.0\.1:9"):
        reader().read(Reference.parse("127.0.0.1:9/ns/app:v1"))


class SkopeoShell(RecordingShell):
    """Answers skopeo as the registry would: the manifest, then the config."""

    def __init__(self, manifest: bytes, config: bytes) -> None:
        super().__init__()
        self.manifest, self.config = manifest, config

    def run(self, argv: Sequence[str], **_kw: object) -> Completed:
        self.commands.append(tuple(argv))
        said = self.config if "--config" in argv else self.manifest
        return Completed(exit_code=0, stdout=said.decode(), stderr="")


def test_a_read_that_needs_credentials_goes_through_skopeo(server: Server) -> None:
    server.serve("/v2/ns/app/manifests/v1",
                 Served(401, b"", {"WWW-Authenticate": 'Basic realm="guarded"'}))
    config = b'{"config": {"Labels": {"k": "v"}}}'
    manifest = json.dumps({"config": {"digest": digest(config)}}).encode()
    shell = SkopeoShell(manifest, config)
    got = PublishedReader(shell, native=reader()).read(ref(server))
    assert got == Published(digest=digest(manifest), labels={"k": "v"})
    assert [c[:2] for c in shell.commands] == [("skopeo", "inspect")] * 2


LIST_OF_JUNK = b'{"manifests": [1, "x"]}'


def image_of(config: bytes) -> bytes:
    return json.dumps({"config": {"digest": digest(config)}}).encode()


@pytest.mark.parametrize(("manifest", "config", "expected"), [
    pytest.param(LIST_OF_JUNK, b"", Published(digest=digest(LIST_OF_JUNK)),
                 id="list-entries-that-are-not-objects"),
    pytest.param(image_of(b'{"config": []}'), b'{"config": []}',
                 Published(digest=digest(image_of(b'{"config": []}'))),
                 id="config-section-not-a-mapping"),
    pytest.param(image_of(b'{"config": {"Labels": ["a"]}}'), b'{"config": {"Labels": ["a"]}}',
                 "labels are not a mapping", id="labels-not-a-mapping"),
    pytest.param(image_of(b'{"config": {}}'), b'{"config": {"Labels": {"xbuild.identity": "x"}}}',
                 "served a config that is not", id="config-of-another-image"),
])
def test_a_hostile_answer_through_skopeo_is_read_as_carefully(
        server: Server, manifest: bytes, config: bytes, expected: Published | str) -> None:
    """The skopeo path and the in-process one interpret an answer with the same code: junk
    is ignored or refused as a RegistryError naming the tag, never a traceback; a config that
    is not the one the manifest names (the tag moved between skopeo's two reads, or a lying
    registry) is refused, not read for its labels."""
    server.serve("/v2/ns/app/manifests/v1",
                 Served(401, b"", {"WWW-Authenticate": 'Basic realm="guarded"'}))
    registry = PublishedReader(SkopeoShell(manifest, config), native=reader())
    if isinstance(expected, str):
        with pytest.raises(RegistryError, match=expected):
            registry.read(ref(server))
    else:
        assert registry.read(ref(server)) == expected


@pytest.mark.parametrize(("text", "path"), [
    ("derekmerck/orthanc:latest", "derekmerck/orthanc"),
    ("orthanc:latest", "library/orthanc"),
    ("docker.io/derekmerck/orthanc:latest", "derekmerck/orthanc"),
    ("127.0.0.1:5000/derekmerck/orthanc:latest", "derekmerck/orthanc"),
    ("localhost/app:v1", "app"),
])
def test_the_repository_path_on_its_registry(text: str, path: str) -> None:
    assert path_of(Reference.parse(text)) == path
