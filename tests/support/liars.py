"""Deliberately wrong multi-arch images, pushed to the test registry, for `xbuild verify`.

Every image is FROM scratch on Debian's static busybox (nothing is pulled). Per-arch images
are built with `docker buildx build --push` (the docker driver pushes Docker v2 schema 2
manifests); the lies that buildx refuses to tell are written by hand through the registry's
HTTP API: a manifest list whose arm64 entry points at the amd64 image, and an arm64 image
whose config blob was rewritten to claim arm/v7.

Each scenario lives in its own repository `<registry>/liars/<scenario>`; per-arch images are
tagged `:<xbuild arch>` and the list is `:latest`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST_V2 = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFESTS = (MANIFEST_V2, OCI_MANIFEST)
LISTS = (MANIFEST_LIST_V2, OCI_INDEX)

# xbuild arch -> (buildx platform, busybox staged as TARGETARCH+TARGETVARIANT, OCI platform)
PLATFORMS: dict[str, tuple[str, str, dict[str, str]]] = {
    "amd64": ("linux/amd64", "amd64", {"os": "linux", "architecture": "amd64"}),
    "arm64v8": ("linux/arm64", "arm64", {"os": "linux", "architecture": "arm64"}),
    "arm32v7": ("linux/arm/v7", "armv7",
                {"os": "linux", "architecture": "arm", "variant": "v7"}),
}

# busybox --install makes /bin/dpkg and /bin/dpkg-deb applets that do not know
# --print-architecture; removed so that "no dpkg" is unambiguous.
_SHELL_DOCKERFILE = """\
FROM scratch
ARG TARGETARCH
ARG TARGETVARIANT
COPY busybox-${TARGETARCH}${TARGETVARIANT} /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "rm", "-f", "/bin/dpkg", "/bin/dpkg-deb"]
"""

# One static binary, no /bin at all: nothing a verifier may run as a shell.
_NO_SHELL_DOCKERFILE = """\
FROM scratch
ARG TARGETARCH
ARG TARGETVARIANT
COPY busybox-${TARGETARCH}${TARGETVARIANT} /hello
ENTRYPOINT ["/hello", "true"]
"""


class RegistryError(AssertionError):
    """The registry refused a request a liar needed."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def entry(self, platform: dict[str, str]) -> dict[str, Any]:
        """This manifest as an entry of a manifest list, claiming `platform`."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size,
                "platform": dict(platform)}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryApi:
    """The few calls of the distribution HTTP API (v2) the liars need, with urllib."""

    def __init__(self, address: str) -> None:
        self.base = f"http://{address}"

    def _request(self, method: str, url: str, *, data: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        full = url if url.startswith("http") else self.base + url
        request = urllib.request.Request(full, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status), dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise RegistryError(f"{method} {full}: HTTP {exc.code}: {body}") from exc

    def manifest(self, name: str, reference: str,
                 accept: tuple[str, ...] = IMAGE_MANIFESTS) -> tuple[Descriptor, dict[str, Any]]:
        """The manifest `name:reference` as stored: its descriptor and its parsed body."""
        _, headers, body = self._request("GET", f"/v2/{name}/manifests/{reference}",
                                         headers={"Accept": ", ".join(accept)})
        media_type = headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in accept:
            raise RegistryError(f"{name}:{reference} is {media_type!r}, wanted one of {accept}")
        digest = digest_of(body)
        assert headers.get("Docker-Content-Digest", digest) == digest, headers
        document = json.loads(body)
        assert isinstance(document, dict)
        return Descriptor(media_type, digest, len(body)), document

    def put_manifest(self, name: str, reference: str, document: dict[str, Any],
                     media_type: str) -> Descriptor:
        body = json.dumps(document, indent=3).encode()
        _, headers, _ = self._request("PUT", f"/v2/{name}/manifests/{reference}", data=body,
                                      headers={"Content-Type": media_type})
        digest = digest_of(body)
        assert headers.get("Docker-Content-Digest", digest) == digest, headers
        return Descriptor(media_type, digest, len(body))

    def blob(self, name: str, digest: str) -> bytes:
        _, _, body = self._request("GET", f"/v2/{name}/blobs/{digest}")
        assert digest_of(body) == digest
        return body

    def push_blob(self, name: str, data: bytes) -> str:
        """A monolithic upload: POST for an upload session, then PUT ?digest= with the bytes."""
        status, headers, _ = self._request("POST", f"/v2/{name}/blobs/uploads/", data=b"")
        assert status == 202, status
        location = urllib.parse.urljoin(self.base + "/", headers["Location"])
        digest = digest_of(data)
        separator = "&" if urllib.parse.urlsplit(location).query else "?"
        url = f"{location}{separator}digest={urllib.parse.quote(digest)}"
        status, _, _ = self._request("PUT", url, data=data, headers={
            "Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        assert status == 201, status
        return digest

    def list_entries(self, name: str, reference: str) -> list[dict[str, Any]]:
        _, document = self.manifest(name, reference, accept=LISTS)
        manifests = document["manifests"]
        assert isinstance(manifests, list)
        return manifests


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


class Liars:
    """Builds and pushes the scenarios under `<registry>/liars/`; `cleanup` untags them."""

    def __init__(self, address: str, workdir: Path, busybox: dict[str, Path]) -> None:
        self.address = address
        self.api = RegistryApi(address)
        self.tagged: list[str] = []
        self.contexts: dict[str, Path] = {}
        for kind, dockerfile in (("shell", _SHELL_DOCKERFILE), ("no-shell", _NO_SHELL_DOCKERFILE)):
            context = workdir / kind
            context.mkdir(parents=True)
            (context / "Dockerfile").write_text(dockerfile)
            for suffix, binary in busybox.items():
                shutil.copy2(binary, context / f"busybox-{suffix}")
            self.contexts[kind] = context

    @property
    def prefix(self) -> str:
        return f"{self.address}/liars"

    def name(self, scenario: str) -> str:
        """The repository's name in the registry API (no host)."""
        return f"liars/{scenario}"

    def repository(self, scenario: str) -> str:
        return f"{self.prefix}/{scenario}"

    # --- building blocks -------------------------------------------------------------
    def build(self, scenario: str, arch: str, *, label: str | None, shell: bool = True,
              tag: str | None = None) -> str:
        """Push a busybox image for `arch` to `liars/<scenario>:<tag or arch>`."""
        platform, _, _ = PLATFORMS[arch]
        ref = f"{self.repository(scenario)}:{tag or arch}"
        labels = ["--label", f"architecture={label}"] if label is not None else []
        context = self.contexts["shell" if shell else "no-shell"]
        self.tagged.append(ref)
        _run("docker", "buildx", "build", "--platform", platform, *labels, "--push",
             "--provenance=false", "-t", ref, str(context))
        return ref

    def image_list(self, scenario: str, sources: list[str], tag: str = "latest") -> str:
        """A manifest list made the honest way, by `docker buildx imagetools create`."""
        ref = f"{self.repository(scenario)}:{tag}"
        _run("docker", "buildx", "imagetools", "create", "-t", ref, *sources)
        return ref

    def put_list(self, scenario: str, entries: list[dict[str, Any]], media_type: str,
                 tag: str = "latest") -> str:
        """A manifest list written by hand: whatever `entries` claim, the registry stores."""
        document: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type,
                                    "manifests": entries}
        self.api.put_manifest(self.name(scenario), tag, document, media_type)
        return f"{self.repository(scenario)}:{tag}"

    def descriptor(self, scenario: str, tag: str) -> Descriptor:
        descriptor, _ = self.api.manifest(self.name(scenario), tag)
        return descriptor

    # --- the scenarios ---------------------------------------------------------------
    def honest(self) -> str:
        """amd64 + arm64 + arm/v7, each labelled with its xbuild arch."""
        sources = [self.build("honest", arch, label=arch) for arch in PLATFORMS]
        return self.image_list("honest", sources)

    def missing_arch(self) -> str:
        """An honest list that has no arm/v7 entry."""
        sources = [self.build("missing-arch", arch, label=arch) for arch in ("amd64", "arm64v8")]
        return self.image_list("missing-arch", sources)

    def lying_entry(self) -> str:
        """A docker manifest list whose linux/arm64 entry points at the amd64 image."""
        self.build("lying-entry", "amd64", label="amd64")
        amd64 = self.descriptor("lying-entry", "amd64")
        return self.put_list("lying-entry", [amd64.entry(PLATFORMS["amd64"][2]),
                                             amd64.entry(PLATFORMS["arm64v8"][2])],
                             MANIFEST_LIST_V2)

    def lying_label(self) -> str:
        """Honest amd64 + an arm64 image whose `architecture` label says amd64."""
        sources = [self.build("lying-label", "amd64", label="amd64"),
                   self.build("lying-label", "arm64v8", label="amd64")]
        return self.image_list("lying-label", sources)

    def config_lies(self) -> str:
        """An OCI index: honest amd64, and arm64 binaries whose config claims arm/v7.

        The rewritten config also relabels the image arm32v7, so only the binaries tell.
        """
        name = self.name("config-lies")
        self.build("config-lies", "amd64", label="amd64")
        self.build("config-lies", "arm64v8", label="arm64v8", tag="arm64-binaries")
        _, manifest = self.api.manifest(name, "arm64-binaries")
        config = json.loads(self.api.blob(name, manifest["config"]["digest"]))
        assert config["architecture"] == "arm64", config
        config["architecture"] = "arm"
        config["variant"] = "v7"
        config["config"]["Labels"]["architecture"] = "arm32v7"
        blob = json.dumps(config).encode()
        manifest["config"]["digest"] = self.api.push_blob(name, blob)
        manifest["config"]["size"] = len(blob)
        fake = self.api.put_manifest(name, "arm32v7", manifest, manifest["mediaType"])
        amd64 = self.descriptor("config-lies", "amd64")
        return self.put_list("config-lies", [amd64.entry(PLATFORMS["amd64"][2]),
                                             fake.entry(PLATFORMS["arm32v7"][2])], OCI_INDEX)

    def no_shell(self) -> str:
        """amd64 + arm64 images of one static binary, /hello, as the entrypoint; no label."""
        sources = [self.build("no-shell", arch, label=None, shell=False)
                   for arch in ("amd64", "arm64v8")]
        return self.image_list("no-shell", sources)

    # --- teardown --------------------------------------------------------------------
    def cleanup(self) -> None:
        """Untag what was built, and whatever a verifier pulled from these repositories."""
        listing = subprocess.run(
            ["docker", "image", "ls", "--digests", "--format",
             "{{.Repository}}\t{{.Tag}}\t{{.Digest}}"],
            capture_output=True, text=True, check=False).stdout
        refs = set(self.tagged)
        for line in listing.splitlines():
            repository, tag, digest = [*line.split("\t"), "", ""][:3]
            if not repository.startswith(self.prefix + "/"):
                continue
            if tag not in ("", "<none>"):
                refs.add(f"{repository}:{tag}")
            if digest not in ("", "<none>"):
                refs.add(f"{repository}@{digest}")
        for ref in sorted(refs):
            subprocess.run(["docker", "image", "rm", ref], capture_output=True, check=False)
