"""Every command-line option, declared once. A command names the options it takes and
receives them as one frozen Options value, so no two commands repeat a declaration."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from xbuild.core.platforms import ARCH_NAMES

# Two more than the CPUs, so a build's export and push overlap others' work. Measured on the
# 5 x 3 busybox fixture on 2 cores: --jobs 4 was about 10% faster than 2 and than 6.
DEFAULT_JOBS = (os.cpu_count() or 2) + 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """What the command line said; an option a command does not take keeps its default."""

    images: list[str] | None = None
    arch: list[str] | None = None
    rebuild: list[str] | None = None
    builder: list[str] | None = None
    namespace: str | None = None
    tag: str | None = None
    mirror: str | None = None
    into: Path | None = None
    records: list[Path] | None = None
    runners: list[str] | None = None
    branches: list[str] | None = None
    matrix: Path = Path("matrix.yml")
    output: Path = Path(".github/workflows/images.yml")
    dependabot_output: Path = Path(".github/dependabot.yml")
    schedule: str | None = None
    workflow_signing: str = "keyless"
    log_dir: Path = Path(".xbuild/runs")
    jobs: int = DEFAULT_JOBS
    parents: bool = True
    resolve: bool = False
    push: bool = False
    dry_run: bool = False
    allow_partial: bool = False
    verify: bool = False
    install: bool = False
    as_json: bool = False
    hosted: bool = False
    no_schedule: bool = False
    locked: bool = False
    update_lock: bool = False


ArchOpt = Annotated[list[str] | None, typer.Option(
    "--arch", "-a", help=f"Only these architectures (repeatable): {', '.join(ARCH_NAMES)}.",
    show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
RefArg = Annotated[str, typer.Argument(
    help="repository[:tag][@digest] of a list or one image, e.g. derekmerck/orthanc or "
         "derekmerck/orthanc@sha256:...", show_default=False)]
DECLARED: dict[str, Any] = {
    "images": Annotated[list[str] | None, typer.Argument(
        help="Images to act on (default: all). A child brings its in-matrix parents along.",
        show_default=False)],
    "arch": ArchOpt,
    "push": Annotated[bool, typer.Option(help=(
        "Push each image x arch to its staging tag (staging-<tag>-<arch>); once every arch of "
        "an image is done (and verified, with --verify), move its per-arch tags, then its "
        "list. A failed or refused arch moves no public tag of its image."))],
    "matrix": Annotated[Path, typer.Option("--matrix", "-f", help="The matrix file.")],
    "namespace": Annotated[str | None, typer.Option(
        help="Publish under this namespace instead of the matrix's, e.g. 127.0.0.1:5000/team.",
        show_default=False)],
    "tag": Annotated[str | None, typer.Option(help="Use this tag instead of the matrix's.",
                                              show_default=False)],
    "jobs": Annotated[int, typer.Option("--jobs", "-j", min=1, help=(
        "Targets built at once (default: the number of CPUs plus 2)."))],
    "dry_run": Annotated[bool, typer.Option(help="Print the commands; run none.")],
    "allow_partial": Annotated[bool, typer.Option(
        help="Publish a manifest list over the arches that succeeded even if some failed.")],
    "parents": Annotated[bool, typer.Option(
        "--parents/--published-parents",
        help="Build in-matrix parents of the selected images in this run, or take the "
             "parents' per-arch tags already published.")],
    "verify": Annotated[bool, typer.Option(
        help="Verify each image this run builds, as `xbuild verify` does (smoke tests and "
             "parity across arches included), in staging before any of its public tags "
             "moves; a failure moves none of them (exit 7).")],
    "builder": Annotated[list[str] | None, typer.Option(
        help="Build an arch on a node: ARCH=NAME (repeatable), or NAME for every arch. NAME "
             "is a docker context (an engine, e.g. over ssh) or a buildx builder; overrides "
             "matrix.yml's builders.", show_default=False)],
    "rebuild": Annotated[list[str] | None, typer.Option(
        help="Build these images and their children even if up to date (repeatable); "
             "`--rebuild` alone builds everything.", show_default=False)],
    "log_dir": Annotated[Path, typer.Option(help="Where each run keeps its logs and record.")],
    "mirror": Annotated[str | None, typer.Option(
        envvar="XBUILD_MIRROR", show_default=False,
        help="Fetch downloads from this mirror, laid out as <mirror>/<host>/<path> "
             "(`xbuild fetch --into` writes that layout), instead of their own hosts.")],
    "into": Annotated[Path | None, typer.Option(
        help="Also copy every file into this folder as a mirror tree (<host>/<path>), "
             "for a closed network's web server and XBUILD_MIRROR.", show_default=False)],
    "records": Annotated[list[Path] | None, typer.Option(
        "--from", help="Build records (build-record.json in each run folder) to publish exactly "
                       "the digests of; records that disagree are refused. Repeatable.",
        show_default=False)],
    "resolve": Annotated[bool, typer.Option(
        help="Also read the registry: resolve external bases, so every identity is known, and "
             "say which targets a build with --push would find up to date.")],
    "install": Annotated[bool, typer.Option(
        help="Register missing handlers from the host's qemu-user-static (needs root).")],
    "as_json": JsonOpt,
    "locked": Annotated[bool, typer.Option(
        help="Refuse (exit 2, before anything is fetched or built) any download whose sha256 "
             "matrix.yml does not pin and downloads.lock does not list, naming each.")],
    "update_lock": Annotated[bool, typer.Option(
        help="Fetch the downloads afresh, even those downloads.lock lists, and record what "
             "they are now in the lock (matrix.yml's own sha256 pins still hold).")],
    "runners": Annotated[list[str] | None, typer.Option(
        "--runner", metavar="ARCH=LABEL,...",
        help="The runner labels of an arch's job (repeatable), e.g. "
             "arm64v8=self-hosted,linux,jetson or arm64v8=ubuntu-24.04-arm. Default: "
             "self-hosted,linux plus X64 (amd64) or ARM64 (arm64v8, and arm32v7, which goes "
             "along with arm64v8's runner). Never a 32-bit ARM runner.", show_default=False)],
    "hosted": Annotated[bool, typer.Option(
        "--hosted", help="Use GitHub-hosted runners: ubuntu-24.04 for amd64, ubuntu-24.04-arm "
                         "for arm64v8 and arm32v7 (under QEMU there).")],
    "schedule": Annotated[str | None, typer.Option(
        metavar="CRON", help="When scheduled runs rebuild what new bases changed, as cron "
                             "(UTC; default weekly: '23 4 * * 1').", show_default=False)],
    "no_schedule": Annotated[bool, typer.Option(
        "--no-schedule", help="No scheduled runs: only pushes and runs by hand.")],
    "workflow_signing": Annotated[str, typer.Option(
        "--signing", metavar="keyless|key|none",
        help="How the merge job signs, with cosign, the lists and per-arch images it "
             "publishes, and attests their SBOM and provenance: keyless (GitHub's OIDC token; "
             "that job alone gets id-token: write), key (a key pair of your own, from the "
             "repository secrets COSIGN_PRIVATE_KEY and COSIGN_PASSWORD), or none (no cosign, "
             "nothing signed).")],
    "branches": Annotated[list[str] | None, typer.Option(
        "--branch", help="Run on pushes to this branch (repeatable; default main). The "
                         "workflow can also be started by hand.", show_default=False)],
    "output": Annotated[Path, typer.Option(
        "--output", "-o", help="Write the workflow to this file; - for stdout.")],
    "dependabot_output": Annotated[Path, typer.Option(
        "--output", "-o", help="Write the Dependabot configuration to this file; - for "
                               "stdout.")],
}
_DEFAULTS = {f.name: f.default for f in fields(Options)}


def takes(*names: str, **fixed: Any) -> Callable[[Callable[[Options], None]],
                                                   Callable[..., None]]:
    """Give a command `def cmd(o: Options)` the options `names` on its command line, in that
    order; `fixed` values are set without being offered (as `all` fixes build's images)."""
    unknown = set(names) - set(DECLARED)
    assert not unknown, f"undeclared options: {unknown}"

    def wrap(command: Callable[[Options], None]) -> Callable[..., None]:
        def call(**given: Any) -> None:
            command(Options(**given, **fixed))

        call.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=_DEFAULTS[name],
                              annotation=DECLARED[name]) for name in names])
        call.__annotations__ = {name: DECLARED[name] for name in names}
        return functools.update_wrapper(call, command, assigned=("__doc__", "__name__"),
                                        updated=())

    return wrap
