"""What xbuild reads in a Dockerfile without building it: its FROM lines and its labels."""

from __future__ import annotations

from dataclasses import dataclass

DESCRIPTION_LABEL = "org.opencontainers.image.description"
MAX_BYTES = 4 << 20  # real Dockerfiles are a few KiB; this keeps a hostile one small


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    found: list[tuple[str, str]] = []
    pending: list[str] = []  # joined once: adding to one string made 1 MiB of `\` lines 9 s
    for raw in text.splitlines():
        if not pending and raw.lstrip().startswith("#"):
            continue
        line = raw.rstrip()
        if line.endswith("\\"):
            pending.append(line[:-1] + " ")
            continue
        word, _, rest = ("".join(pending) + line).strip().partition(" ")
        if word:
            found.append((word.upper(), rest.strip()))
        pending = []
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class From:
    image: str  # what the line builds on: an image, an earlier stage or scratch
    stage: str | None = None  # the stage it starts (`AS name`)


def from_lines(text: str) -> tuple[From, ...]:
    """A Dockerfile's FROM lines, in order (flags such as --platform dropped): the one FROM
    parser."""
    found: list[From] = []
    for word, rest in instructions(text):
        words = [w for w in rest.split() if not w.startswith("--")] if word == "FROM" else []
        if words:
            stage = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            found.append(From(image=words[0], stage=stage))
    return tuple(found)


def labels_description(text: str) -> bool:
    """Whether the Dockerfile sets its own `org.opencontainers.image.description`."""
    return any(word == "LABEL" and DESCRIPTION_LABEL in rest for word, rest in instructions(text))
