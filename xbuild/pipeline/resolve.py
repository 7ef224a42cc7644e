"""Before building: each target's identity, and what the registry already holds.

Reads, in parallel, every per-arch tag the plan would push, every external base for each arch,
every published parent, and every list; then computes identities parents first. A target whose
published image carries its identity is up to date, unless asked to rebuild.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from xbuild.core.answers import Published
from xbuild.core.buildspec import IDENTITY_LABEL
from xbuild.core.downloads import ImageDownloads
from xbuild.core.errors import InvalidReference
from xbuild.core.identity import Inputs, Resolution, SourceDigest, identity, inputs_for, read_source
from xbuild.core.matrix import Matrix
from xbuild.core.plan import Plan, Target
from xbuild.core.refs import Reference
from xbuild.host.published import TagReader

EVERYTHING = "*"  # --rebuild with no image
Answers = Mapping[str, Published | None]  # what the registry holds, by reference


def forced(plan: Plan, rebuild: Collection[str]) -> set[str]:
    """Target keys --rebuild asks for: everything, or the named images and their children."""
    if EVERYTHING in rebuild:
        return {t.key for t in plan.targets}
    chosen: set[str] = set()
    for target in plan.targets:  # parents come first
        if target.image in rebuild or (target.parent_key in chosen):
            chosen.add(target.key)
    return chosen


def base_ref(matrix: Matrix, plan: Plan, name: str, target: Target) -> Reference | None:
    """Where an external base comes from for `target`'s arch: xbuild's own bootstrap in the
    plan's namespace when matrix.yml declares it, else the reference itself."""
    for base in matrix.bases:
        if str(base.name) == name:
            return base.published(plan.namespace).per_arch(target.arch)
    try:
        return Reference.parse(name)
    except InvalidReference:
        return None  # e.g. `FROM ${BASE}`: never known, so always built


def known_checksums(downloads: ImageDownloads | None,
                    target: Target) -> list[tuple[str, str | None]]:
    if downloads is None:
        return []
    return [(name, source.sha256) for name, source in downloads.for_arch(target.arch)]


def resolve(matrix: Matrix, plan: Plan, registry: TagReader | None, *, push: bool,
            rebuild: Collection[str] = ()) -> Resolution:
    """With `push`, also what is up to date: then a registry that cannot be read is an error
    (the pushes would fail too). A base that cannot be read is left unresolved. Without a
    registry nothing is read: bases stay unresolved, so only base-free identities are known.
    An identity that needs a download's first-seen checksum stays unknown (with_downloads)."""
    sources = {spec.name: read_source(spec.context, spec.dockerfile,
                                      str(matrix.published_name(spec.parent))
                                      if spec.parent else None)
               for spec in matrix.images if spec.name in plan.images}
    wanted = _bases_wanted(matrix, plan, sources)
    answers = _read(plan, registry, [r for r in wanted.values() if r], push=push)
    bases = {key: ref.pinned(found.digest) for key, ref in wanted.items()
             if ref is not None and (found := answers.get(str(ref))) is not None}
    inputs, identities = _identify(matrix, plan, sources, answers, bases)
    skip = forced(plan, rebuild)
    up_to_date = _up_to_date(plan, identities, answers, skip, staging=False) if push else {}
    return Resolution(
        inputs=inputs, identities=identities, bases=bases, up_to_date=up_to_date,
        staged=_staged(plan, registry, identities, skip | set(up_to_date)) if push else {},
        lists={str(m.ref): found.entries for m in plan.manifests
               if (found := answers.get(str(m.ref)))},
        published={str(t.ref): answers.get(str(t.ref)) for t in plan.targets})


def _read(plan: Plan, registry: TagReader | None, bases: list[Reference], *,
          push: bool) -> Answers:
    """The bases, the published parents and (with `push`) every tag and list the plan would
    push. A parent, tag or list that cannot be read is an error; a base is left unread."""
    strict = [t.parent_published for t in plan.targets if t.parent_published]
    if push:
        strict += [t.ref for t in plan.targets] + [m.ref for m in plan.manifests]
    if registry is None:
        return {}
    answers, failures = registry.read_all([*bases, *strict])
    if bad := next((failures[str(r)] for r in strict if str(r) in failures), None):
        raise bad
    return answers


def _bases_wanted(matrix: Matrix, plan: Plan,
                  sources: Mapping[str, SourceDigest]) -> dict[tuple[str, str], Reference | None]:
    return {(name, t.arch.name): base_ref(matrix, plan, name, t)
            for t in plan.targets for name in sources[t.image].bases}


def _identify(matrix: Matrix, plan: Plan, sources: Mapping[str, SourceDigest], answers: Answers,
              bases: Mapping[tuple[str, str], Reference]
              ) -> tuple[dict[str, Inputs], dict[str, str | None]]:
    inputs: dict[str, Inputs] = {}
    identities: dict[str, str | None] = {}
    for target in plan.targets:  # parents first
        parent: str | None = ""
        if target.parent_key:
            parent = identities.get(target.parent_key)
        elif target.parent_published:
            found = answers.get(str(target.parent_published))
            parent = found.labels.get(IDENTITY_LABEL) if found else None
        inputs[target.key] = inputs_for(
            target, sources[target.image],
            downloads=known_checksums(matrix.image(target.image).downloads, target),
            bases={name: ref.digest for (name, arch), ref in bases.items()
                   if arch == target.arch.name},
            parent=parent, description=target.description)
        identities[target.key] = identity(inputs[target.key])
    return inputs, identities


def _up_to_date(plan: Plan, identities: Mapping[str, str | None], answers: Answers,
                forced_keys: set[str], *, staging: bool) -> dict[str, str]:
    """Target key -> digest of the image its public tag (or, with `staging`, its staging
    tag) holds, where that image carries the identity the target would get."""
    found = {}
    for target in plan.targets:
        mine = identities.get(target.key)
        published = answers.get(str(target.staging_ref if staging else target.ref))
        if mine and published and target.key not in forced_keys \
                and published.labels.get(IDENTITY_LABEL) == mine:
            found[target.key] = published.digest
    return found


def _staged(plan: Plan, registry: TagReader | None, identities: Mapping[str, str | None],
            done: set[str]) -> dict[str, str]:
    """Targets an earlier run built and staged with this identity but did not make public
    (a refused or interrupted release): read only for the targets not `done` (up to date or
    forced), so a no-op rerun reads nothing more. A staging tag that cannot be read is
    built again."""
    wanted = [t.staging_ref for t in plan.targets if t.key not in done and identities.get(t.key)]
    if registry is None or not wanted:
        return {}
    answers, _failures = registry.read_all(wanted)
    return _up_to_date(plan, identities, answers, done, staging=True)


def with_downloads(resolution: Resolution, plan: Plan,
                   checksums: Mapping[str, Mapping[str, str]]) -> Resolution:
    """The identities left unknown for want of a download's checksum, now that the downloads
    are in hand: `checksums` maps a target key to its files' checksums, first-seen ones
    included. An identity known before stays as it was (all its inputs were known)."""
    identities = dict(resolution.identities)
    inputs = dict(resolution.inputs)
    for target in plan.targets:  # parents first: a child sees its parent's new identity
        if identities.get(target.key):
            continue
        known = inputs[target.key]
        downloads = tuple((name, sha or checksums.get(target.key, {}).get(name))
                          for name, sha in known.downloads)
        parent = identities.get(target.parent_key) if target.parent_key else known.parent
        inputs[target.key] = replace(known, downloads=downloads, parent=parent)
        identities[target.key] = identity(inputs[target.key])
    return replace(resolution, inputs=inputs, identities=identities)
