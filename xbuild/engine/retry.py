"""Which registry errors are worth another try, and the tenacity policy that retries them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from xbuild.core.errors import CommandFailed

_TRANSIENT = re.compile(
    r"\b(500|502|503|504|429)\b|too many requests|toomanyrequests|service unavailable"
    r"|bad gateway|gateway timeout|connection reset|broken pipe|unexpected eof|\": eof\b"
    r"|i/o timeout|tls handshake timeout|use of closed network connection|connection refused"
    r"|server closed idle connection|client\.timeout exceeded",
    re.IGNORECASE,
)
_PERMANENT = re.compile(
    r"unauthorized|authentication required|denied|forbidden|\b40[134]\b|not found"
    r"|manifest unknown|name unknown|blob unknown|no such host|invalid reference",
    re.IGNORECASE,
)


def error_lines(output: str) -> list[str]:
    """The lines where docker or buildx states the error, not the build's own output."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    stated = [ln for ln in lines if ln.startswith(("ERROR:", "error:", "Error", "ERROR "))]
    return list(dict.fromkeys(stated)) or lines[-3:]


def short_error(output: str, width: int = 160) -> str:
    """The first stated error, shortened for a summary cell; the log keeps all of it."""
    first = error_lines(output)[0] if output.strip() else "failed"
    first = first.removeprefix("ERROR: ").removeprefix("failed to solve: ")
    return first if len(first) <= width else first[: width - 1] + "…"


def is_transient(output: str) -> bool:
    """True for 5xx, 429 and dropped connections; never for auth or not-found errors."""
    stated = error_lines(output)
    if any("did not complete successfully" in line for line in stated):
        return False  # a RUN step failed; its command may well mention 503 or EOF
    text = "\n".join(stated)
    return not _PERMANENT.search(text) and bool(_TRANSIENT.search(text))


def failed_transiently(exc: BaseException) -> bool:
    """A command (docker, buildx, skopeo) that failed in a way worth another try: the one
    predicate every retry of a command uses."""
    return isinstance(exc, CommandFailed) and is_transient(exc.output)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Transient registry faults are retried until `attempts` or `deadline` seconds run out,
    waiting a random exponential time (so parallel jobs do not retry in step). Registries under
    load fail a fifth of their requests at times; a push makes a dozen."""

    attempts: int = 30
    first_wait: float = 0.5  # seconds; the ceiling of the random wait doubles each time
    max_wait: float = 10.0
    deadline: float = 600.0  # seconds for all the attempts of one operation

    def retrying(self, should_retry: Callable[[BaseException], bool],
                 on_retry: Callable[[int, BaseException], None]) -> Retrying:
        def before_sleep(state: RetryCallState) -> None:
            if state.outcome is not None and (exc := state.outcome.exception()) is not None:
                on_retry(state.attempt_number, exc)

        return Retrying(
            retry=retry_if_exception(should_retry),
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.deadline),
            wait=wait_random_exponential(multiplier=self.first_wait, max=self.max_wait),
            before_sleep=before_sleep,
            reraise=True,
        )
