"""`xbuild manifest`: the merge step. Lists are made only of images this checkout accounts for:
either the per-arch tags whose image carries the identity this checkout computes, or exactly the
digests that build records (`--from`) name: the staged images each per-arch run verified. Their
public per-arch tags move first, then the list. A stale or foreign arch is named and its list
withheld (or, with --allow-partial, left out); a withheld list moves no tag."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xbuild.core import record
from xbuild.core.bounded_read import read_bounded
from xbuild.core.errors import ConfigError, SelectionError
from xbuild.core.identity import Resolution
from xbuild.core.matrix import Matrix
from xbuild.core.plan import ManifestList, Plan, make_plan
from xbuild.core.results import ListResult, ListStatus
from xbuild.core.settings import SigningSettings
from xbuild.engine.publish import publish_one
from xbuild.engine.signing import Signing
from xbuild.host.run_folder import evidence_beside
from xbuild.output.console import Console
from xbuild.pipeline.resolve import resolve
from xbuild.pipeline.tools import Tools, tools
from xbuild.pipeline.trust_step import chosen as chosen_signing
from xbuild.pipeline.trust_step import (
    cosign_for,
    require_key_opens,
    show_verify_commands,
    signing_with,
)

Choice = dict[str, str]  # target key -> a digest ("sha256:...") or why there is none


def manifest(matrix: Matrix, *, images: Sequence[str], namespace: str | None, tag: str | None,
             allow_partial: bool, dry_run: bool, console: Console,
             records: Sequence[Path] = (), kit: Tools | None = None,
             signing: SigningSettings = SigningSettings()) -> list[ListResult]:
    """Publish the lists; with `signing` (or matrix.yml's), each per-arch image new under its
    tag is attested with the SBOM and provenance its run kept beside its record, and signed,
    and so is each list, before its public tag moves."""
    signed = chosen_signing(signing, matrix)
    if signed.on and not records:
        raise SelectionError("signing needs --from: each arch's SBOM and provenance lie in "
                             "evidence/ beside the build record of the run that verified it")
    plan = make_plan(matrix, images=images, namespace=namespace, tag=tag, build_parents=False)
    chosen_from, where = _read_records(plan, records) if records else (None, {})
    kit = kit or tools(console, dry_run=dry_run)
    cosign = cosign_for(signed, kit)
    require_key_opens(cosign)
    resolution = resolve(matrix, plan, kit.registry, push=True)
    chosen = (from_records(plan, resolution, chosen_from) if chosen_from is not None
              else from_registry(plan, resolution))
    signer = (signing_with(cosign, kit, lambda key: evidence_beside(where[key], key))
              if cosign is not None else None)
    results = [_publish(m, chosen, resolution, kit, allow_partial=allow_partial,
                        dry_run=dry_run, signing=signer)
               for m in plan.manifests]
    for result in results:
        console.list_result(str(result.manifest.ref), result.status, result.detail,
                            result.status.ok)
    if cosign is not None:
        show_verify_commands(results, signed, kit.console)
    return results


def from_registry(plan: Plan, resolution: Resolution) -> Choice:
    chosen = {}
    for target in plan.targets:
        if digest := resolution.up_to_date.get(target.key):
            chosen[target.key] = digest
        elif target.key in resolution.staged:
            chosen[target.key] = ("staged, but nothing here says it passed verification: "
                                  "publish it with --from the build record of its run")
        elif resolution.published.get(str(target.ref)) is None:
            chosen[target.key] = "not published"
        elif unknown := resolution.inputs[target.key].unknown:
            chosen[target.key] = f"its identity cannot be known here ({', '.join(unknown)})"
        else:
            chosen[target.key] = "stale: its image was not built from this checkout's sources"
    return chosen


def _read_records(plan: Plan, paths: Sequence[Path]
                  ) -> tuple[dict[str, record.Entry], dict[str, Path]]:
    """The records' entries merged, and which record names each target (its run folder
    keeps the target's evidence)."""
    read = []
    for path in paths:
        try:
            text = read_bounded(path, record.MAX_BYTES).decode("utf-8")
        except OSError as exc:
            raise ConfigError(f"--from {path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"--from {path}: not UTF-8 (byte {exc.start})") from None
        namespace, tag, entries = record.parse(path, text)
        if (namespace, tag) != (plan.namespace, plan.tag):
            raise ConfigError(f"{path}: records {namespace}:{tag}, but this merge publishes "
                              f"{plan.namespace}:{plan.tag} (pass --namespace/--tag)")
        read.append((path, entries))
    where = {entry.target: path for path, entries in reversed(read) for entry in entries}
    return record.merge(read), where


def from_records(plan: Plan, resolution: Resolution, entries: dict[str, record.Entry]) -> Choice:
    chosen = {}
    for target in plan.targets:
        entry = entries.get(target.key)
        mine = resolution.identities.get(target.key)
        if entry is None:
            chosen[target.key] = "not in the build records"
        elif mine is not None and entry.identity != mine:
            chosen[target.key] = "its record's identity is not this checkout's"
        else:
            chosen[target.key] = entry.digest
    return chosen


def _publish(manifest: ManifestList, chosen: Choice, resolution: Resolution, kit: Tools, *,
             allow_partial: bool, dry_run: bool, signing: Signing | None) -> ListResult:
    entries = [(arch, ref, chosen[key]) for (arch, ref), key in
               zip(manifest.entries, manifest.target_keys(), strict=True)]
    good = [(arch, ref.pinned(c)) for arch, ref, c in entries if c.startswith("sha256:")]
    lacking = [f"{arch} ({c})" for arch, _, c in entries if not c.startswith("sha256:")]
    available = tuple(str(arch.platform) for arch, _ in good)
    if not lacking and resolution.list_unchanged(manifest.ref, [r.digest for _, r in good]):
        return ListResult(manifest=manifest, status=ListStatus.UP_TO_DATE, platforms=available,
                          available=available)
    current = resolution.current_digests()
    public = dict(manifest.entries)
    new = [(key, ref.pinned(chosen[key])) for (arch, ref), key in
           zip(manifest.entries, manifest.target_keys(), strict=True)
           if chosen[key].startswith("sha256:") and current.get(str(public[arch])) != chosen[key]]
    return publish_one(manifest, good, lacking, kit.engines.on(), kit.tagger,
                       allow_partial=allow_partial, dry_run=dry_run, current=current,
                       signing=signing, new=new)
