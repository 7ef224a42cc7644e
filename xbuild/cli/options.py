"""The options several commands take, each declared once as a type a command's parameter
names (`arch: ArchOpt = None`), so `--arch` reads and behaves the same wherever it is taken.
An option only one command takes is declared beside that command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from xbuild.core.platforms import ARCH_NAMES

# Two more than the CPUs, so a build's export and push overlap others' work. Measured on the
# 5 x 3 busybox fixture on 2 cores: --jobs 4 was about 10% faster than 2 and than 6.
DEFAULT_JOBS = (os.cpu_count() or 2) + 2
MATRIX_FILE = Path("matrix.yml")
LOG_DIR = Path(".xbuild/runs")

ImagesArg = Annotated[list[str] | None, typer.Argument(
    help="Images to act on (default: all). A child brings its in-matrix parents along.",
    show_default=False)]
RefArg = Annotated[str, typer.Argument(
    help="repository[:tag][@digest] of a list or one image, e.g. derekmerck/orthanc or "
         "derekmerck/orthanc@sha256:...", show_default=False)]
ArchOpt = Annotated[list[str] | None, typer.Option(
    "--arch", "-a", help=f"Only these architectures (repeatable): {', '.join(ARCH_NAMES)}.",
    show_default=False)]
MatrixOpt = Annotated[Path, typer.Option("--matrix", "-f", help="The matrix file.")]
NamespaceOpt = Annotated[str | None, typer.Option(
    help="Publish under this namespace instead of the matrix's, e.g. 127.0.0.1:5000/team.",
    show_default=False)]
TagOpt = Annotated[str | None, typer.Option(help="Use this tag instead of the matrix's.",
                                            show_default=False)]
ParentsOpt = Annotated[bool, typer.Option(
    "--parents/--published-parents",
    help="Build in-matrix parents of the selected images in this run, or take the parents' "
         "per-arch tags already published.")]
BuilderOpt = Annotated[list[str] | None, typer.Option(
    help="Build an arch on a node: ARCH=NAME (repeatable), or NAME for every arch. NAME is a "
         "docker context (an engine, e.g. over ssh) or a buildx builder; overrides "
         "matrix.yml's builders.", show_default=False)]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help=(
    "Targets built at once (default: the number of CPUs plus 2)."))]
DryRunOpt = Annotated[bool, typer.Option(help="Print the commands; run none.")]
AllowPartialOpt = Annotated[bool, typer.Option(
    help="Publish a manifest list over the arches that succeeded even if some failed.")]
LogDirOpt = Annotated[Path, typer.Option(help="Where each run keeps its logs and record.")]
MirrorOpt = Annotated[str | None, typer.Option(
    envvar="XBUILD_MIRROR", show_default=False,
    help="Fetch downloads from this mirror, laid out as <mirror>/<host>/<path> (`xbuild fetch "
         "--into` writes that layout), instead of their own hosts.")]
LockedOpt = Annotated[bool, typer.Option(
    help="Refuse (exit 2, before anything is fetched or built) any download whose sha256 "
         "matrix.yml does not pin and downloads.lock does not list, naming each.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]

# build and all
PushOpt = Annotated[bool, typer.Option(help=(
    "Push each image x arch to its staging tag (staging-<tag>-<arch>); once every arch of an "
    "image is done (and verified, with --verify), move its per-arch tags, then its list. A "
    "failed or refused arch moves no public tag of its image."))]
VerifyOpt = Annotated[bool, typer.Option(
    help="Verify each image this run builds, as `xbuild verify` does (smoke tests and parity "
         "across arches included), in staging before any of its public tags moves; a failure "
         "moves none of them (exit 7).")]
RebuildOpt = Annotated[list[str] | None, typer.Option(
    help="Build these images and their children even if up to date (repeatable); `--rebuild` "
         "alone builds everything.", show_default=False)]

# build, all and manifest: one or the other, never both (common.signing_settings)
SignKeyOpt = Annotated[Path | None, typer.Option(
    metavar="PATH", show_default=False,
    help="Sign each new per-arch image and list with this cosign private key, and attest its "
         "SBOM and provenance, after verification and before any public tag moves (implies "
         "--verify for build/all); the key's password comes from COSIGN_PASSWORD.")]
SignKeylessOpt = Annotated[bool, typer.Option(
    help="The same with cosign keyless signing (GitHub Actions' OIDC token; needs the "
         "internet).")]
