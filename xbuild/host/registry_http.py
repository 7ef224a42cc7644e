"""Reads a tag straight from a registry's HTTP API (distribution v2), in process: a no-op rerun
reads one manifest and one config per target, and a process per read cost more than the reads.

Only anonymous reads are made here, over plain http for loopback and the engine's insecure
registries and over verified https otherwise. Whatever needs more (a login, a registry's own CA
in /etc/docker/certs.d) raises `NeedsCredentials`, and the caller reads through skopeo, which
has the Docker CLI's credentials. Answers are hostile input: sizes are capped, and every body
must match the digest it is served under.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xbuild.core.answers import Published
from xbuild.core.errors import RegistryError
from xbuild.core.refs import DIGEST_RE, Reference

LISTS = ("application/vnd.oci.image.index.v1+json",
         "application/vnd.docker.distribution.manifest.list.v2+json")
_IMAGES = ("application/vnd.oci.image.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v2+json")
MAX_MANIFEST = 4 * 1024 * 1024  # distribution refuses to store larger manifests
MAX_CONFIG = 16 * 1024 * 1024
TIMEOUT = 30.0
CERTS_D = Path("/etc/docker/certs.d")
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class NeedsCredentials(Exception):
    """The registry wants more than an anonymous read: read it through skopeo."""


class Transient(RegistryError):
    """A fault worth another try: 5xx, 429, a dropped connection, a timeout."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def endpoint(registry: str) -> str:
    """Where a registry's API is: Docker Hub's names are served by registry-1.docker.io."""
    return "registry-1.docker.io" if registry == "docker.io" else registry


def path_of(ref: Reference) -> str:
    """The repository path on its registry: `library/` for Docker Hub's official images."""
    first, _, rest = ref.repository.partition("/")
    path = rest if ref.registry != "docker.io" or first == "docker.io" else ref.repository
    return path if "/" in path or ref.registry != "docker.io" else f"library/{path}"


def http_get(request: urllib.request.Request, limit: int) -> Answer:
    """One request; its body read up to `limit` bytes (more is an error, not a truncation)."""
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return Answer(response.status, dict(response.headers),
                          _capped(response, limit, request.full_url))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, dict(exc.headers), _capped(exc, 64 * 1024, request.full_url))
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset,
        # timed out, cut short (IncompleteRead), a garbled status line
        raise Transient(f"cannot reach {request.host}: {exc}") from None


def _capped(stream: Any, limit: int, url: str) -> bytes:
    # Read to the end, and compare with Content-Length: http.client returns a body cut short
    # by a dropped connection as if it were whole.
    body = b""
    while len(body) <= limit and (chunk := stream.read(limit + 1 - len(body))):
        body += chunk
    if len(body) > limit:
        raise RegistryError(f"{url}: the answer is larger than {limit} bytes")
    promised = stream.headers.get("Content-Length")
    if promised is not None and promised.isdigit() and int(promised) != len(body):
        raise Transient(f"cannot reach {url}: the answer was cut short")
    return body


@dataclass(slots=True, kw_only=True)
class RegistryHttp:
    """Anonymous reads of tags. `insecure(registry)` says whether it is spoken to over http;
    `echo` receives each request's method and URL (the -v log)."""

    insecure: Callable[[str], bool]
    echo: Callable[[str], None] | None = None
    get: Callable[[urllib.request.Request, int], Answer] = http_get
    certs_d: Path = CERTS_D
    _tokens: dict[str, str] = field(default_factory=dict)

    def read(self, ref: Reference) -> Published | None:
        if (self.certs_d / ref.registry).is_dir():
            raise NeedsCredentials(ref.registry)  # its own CA or a client certificate
        answer = self._get(ref, f"manifests/{ref.digest or ref.tag}", ", ".join(LISTS + _IMAGES),
                           MAX_MANIFEST)
        if answer is None:
            return None
        return interpret(ref, answer.body, _checked_digest(ref, answer),
                         lambda wanted: self._config(ref, wanted))

    def _config(self, ref: Reference, wanted: str) -> bytes | None:
        answer = self._get(ref, f"blobs/{wanted}", "*/*", MAX_CONFIG)
        return None if answer is None else answer.body

    def _get(self, ref: Reference, what: str, accept: str, limit: int) -> Answer | None:
        scheme = "http" if self.insecure(ref.registry) else "https"
        url = f"{scheme}://{endpoint(ref.registry)}/v2/{path_of(ref)}/{what}"
        scope = f"{ref.registry}/{path_of(ref)}"  # a token is good for one repository
        answer = self._send(self._request(url, accept, scope), limit)
        if answer.status == 401 and scope not in self._tokens:
            self._tokens[scope] = self._anonymous_token(answer, ref, scheme)
            answer = self._send(self._request(url, accept, scope), limit)
        if answer.status == 404:
            return None
        if answer.status in (401, 403):
            raise NeedsCredentials(ref.registry)
        if answer.status == 429 or answer.status >= 500:
            raise Transient(f"{ref.registry} answered {answer.status} for {ref}")
        if answer.status != 200:
            raise RegistryError(f"cannot read {ref}: {ref.registry} answered {answer.status}")
        return answer

    def _send(self, request: urllib.request.Request, limit: int) -> Answer:
        if self.echo is not None:
            self.echo(f"GET {request.full_url}")
        return self.get(request, limit)

    def _request(self, url: str, accept: str, scope: str) -> urllib.request.Request:
        request = urllib.request.Request(url, headers={"Accept": accept})
        if token := self._tokens.get(scope):
            # Never sent on to a redirect's host (blob stores refuse it, and it is not theirs).
            request.add_unredirected_header("Authorization", f"Bearer {token}")
        return request

    def _anonymous_token(self, answer: Answer, ref: Reference, scheme: str) -> str:
        """An anonymous pull token from the realm the registry's Bearer challenge names: over
        https, or over http only from a registry itself spoken to over http."""
        challenge = next((v for k, v in answer.headers.items()
                          if k.lower() == "www-authenticate"), "")
        found = dict(_CHALLENGE.findall(challenge.partition(" ")[2]))
        realm = urllib.parse.urlsplit(found.get("realm", ""))
        kind = challenge.partition(" ")[0]
        if kind.lower() != "bearer" or realm.scheme not in {"https", scheme}:
            raise NeedsCredentials(ref.registry)  # Basic auth, or a realm we won't trust
        query = {"service": found.get("service", ""),
                 "scope": f"repository:{path_of(ref)}:pull"}
        url = realm._replace(query=urllib.parse.urlencode(query)).geturl()
        got = self._send(urllib.request.Request(url), 64 * 1024)
        if got.status != 200:
            raise NeedsCredentials(ref.registry)
        body = _json(got.body, ref)
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise NeedsCredentials(ref.registry)
        return token


def _checked_digest(ref: Reference, answer: Answer) -> str:
    digest = "sha256:" + hashlib.sha256(answer.body).hexdigest()
    said = next((v for k, v in answer.headers.items() if k.lower() == "docker-content-digest"),
                None)
    if (said is not None and said.startswith("sha256:") and said != digest) or (
            ref.digest and ref.digest != digest):
        raise RegistryError(f"{ref}: the registry served a manifest that is not the one it names")
    return digest


def interpret(ref: Reference, body: bytes, digest: str,
              config_of: Callable[[str], bytes | None]) -> Published:
    """A tag's answer, however it was read: a list's entries, or a single image's config labels
    (`config_of(digest)` reads the config blob the manifest names; None: it is missing). The
    config must be the one the manifest names: skopeo reads it in a second request, after
    which the tag may name another image."""
    manifest = _json(body, ref)
    if manifest.get("mediaType") in LISTS or "manifests" in manifest:
        return Published(digest=digest, entries=frozenset(
            str(m.get("digest", "")) for m in _entries(manifest)))
    config = manifest.get("config")
    wanted = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(wanted, str) or not DIGEST_RE.fullmatch(wanted):
        raise RegistryError(f"{ref}: the manifest names no sha256 config")
    blob = config_of(wanted)
    if blob is None:
        raise RegistryError(f"{ref}: its config {wanted} is missing from the registry")
    if "sha256:" + hashlib.sha256(blob).hexdigest() != wanted:
        raise RegistryError(f"{ref}: the registry served a config that is not {wanted}")
    section = _json(blob, ref).get("config") or {}
    labels = section.get("Labels") or {} if isinstance(section, dict) else {}
    if not isinstance(labels, dict):
        raise RegistryError(f"{ref}: the config's labels are not a mapping")
    return Published(digest=digest, labels={str(k): str(v) for k, v in labels.items()})


def _entries(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = manifest.get("manifests")
    return [m for m in entries if isinstance(m, dict)] if isinstance(entries, list) else []


def _json(body: bytes | str, ref: Reference) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can read
        raise RegistryError(f"{ref}: the registry's answer is not JSON") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{ref}: the registry's answer is not a manifest")
    return data
