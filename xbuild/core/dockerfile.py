"""What xbuild reads in a Dockerfile without building it: its FROM lines and its labels."""

from __future__ import annotations

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


def bases(text: str) -> tuple[str, ...]:
    """The image names of a Dockerfile's FROM lines (flags and `AS name` dropped)."""
    found: list[str] = []
    for word, rest in instructions(text):
        if word == "FROM":
            found += [w for w in rest.split() if not w.startswith("--")][:1]
    return tuple(found)


def labels_description(text: str) -> bool:
    """Whether the Dockerfile sets its own `org.opencontainers.image.description`."""
    return any(word == "LABEL" and DESCRIPTION_LABEL in rest for word, rest in instructions(text))
