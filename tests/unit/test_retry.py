"""Which docker/buildx errors are transient, how they are shortened, and the retry policy."""

from __future__ import annotations

import pytest

from xbuild.core.errors import CommandFailed
from xbuild.engine.retry import (
    RetryPolicy,
    error_lines,
    failed_transiently,
    is_transient,
    short_error,
)

PUSH = "ERROR: failed to push 127.0.0.1:5000/ns/img:t-amd64: "
SOLVE = "ERROR: failed to solve: "
REF = "127.0.0.1:5000/ns/img:t-amd64"


def build_output(step_output: str, error: str) -> str:
    """A failed buildx build as `--progress plain` prints it: step output, then the error."""
    return (f"#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\n"
            f"#5 [2/2] RUN ./fetch.sh\n{step_output}\n"
            f"#5 ERROR: process \"/bin/sh -c ./fetch.sh\" did not complete successfully: "
            f"exit code: 1\n------\n > [2/2] RUN ./fetch.sh:\n{step_output}\n------\n"
            f"Dockerfile:2\n--------------------\n   2 | >>> RUN ./fetch.sh\n"
            f"--------------------\n{error}\n")


TRANSIENT = [
    pytest.param(f"{PUSH}failed commit on ref \"manifest-sha256:ab\": unexpected status from "
                 f"PUT request to http://{REF}: 503 Service Unavailable", id="503"),
    pytest.param(f"{PUSH}unexpected status from PUT request: 502 Bad Gateway", id="502"),
    pytest.param(f"{PUSH}unexpected status from HEAD request: 500 Internal Server Error",
                 id="500"),
    pytest.param(f"{PUSH}unexpected status from PUT request: 504 Gateway Timeout", id="504"),
    pytest.param(f"{SOLVE}failed to copy: httpReadSeeker: failed open: unexpected status code "
                 "https://registry-1.docker.io/v2/library/debian/manifests/sha256:0f: "
                 "429 Too Many Requests - Server message: toomanyrequests: You have reached "
                 "your pull rate limit", id="429"),
    pytest.param("ERROR: failed to solve: TOOMANYREQUESTS: Rate exceeded", id="toomanyrequests"),
    pytest.param(f"{PUSH}failed to do request: Put \"http://{REF}\": read tcp "
                 "127.0.0.1:41234->127.0.0.1:5000: read: connection reset by peer",
                 id="connection-reset"),
    pytest.param(f"{PUSH}failed to copy: unexpected EOF", id="unexpected-eof"),
    pytest.param("ERROR: write tcp 127.0.0.1:40130->127.0.0.1:41373: use of closed network "
                 "connection", id="closed-connection"),  # seen at 20% random faults
    pytest.param(f"{PUSH}failed to do request: Head \"http://{REF}\": dial tcp "
                 "127.0.0.1:5000: connect: connection refused", id="registry-restarting"),
    pytest.param('time="2026-11-26T12:00:00Z" level=fatal msg="reading manifest latest in '
                 '127.0.0.1:5000/ns/x: received unexpected HTTP status: 503 Service '
                 'Unavailable"', id="skopeo-503"),
    pytest.param(f"{PUSH}failed to do request: Head \"https://ghcr.io/v2/x\": net/http: "
                 "TLS handshake timeout", id="tls-handshake-timeout"),
    pytest.param("error: failed to do request: dial tcp 10.0.0.1:443: i/o timeout",
                 id="lowercase-error-io-timeout"),
    pytest.param("Error response from daemon: received unexpected HTTP status: "
                 "503 Service Unavailable", id="daemon-503"),
    pytest.param(build_output("#5 0.2 fetching", f"{PUSH}unexpected status: 503"),
                 id="503-after-a-build-log"),
]

PERMANENT = [
    pytest.param(f"{PUSH}unexpected status from HEAD request to https://ghcr.io/v2/x: "
                 "401 Unauthorized", id="401-unauthorized"),
    pytest.param(f"{PUSH}server message: insufficient_scope: authorization failed: "
                 "denied: requested access to the resource is denied", id="denied"),
    pytest.param(f"{SOLVE}docker.io/ns/img:missing: manifest unknown: manifest unknown",
                 id="manifest-unknown"),
    pytest.param(f"{SOLVE}debian:bookworm-slimx: failed to resolve source metadata for "
                 "docker.io/library/debian:bookworm-slimx: docker.io/library/debian:"
                 "bookworm-slimx: not found", id="not-found"),
    pytest.param(f"{SOLVE}failed to do request: Head \"https://regsitry.example/v2/x\": "
                 "dial tcp: lookup regsitry.example on 127.0.0.53:53: no such host",
                 id="no-such-host"),
    pytest.param(f"{PUSH}unexpected status: 403 Forbidden", id="403-forbidden"),
    pytest.param(f"{PUSH}unexpected status: 401 Unauthorized, then 503 Service Unavailable",
                 id="auth-error-wins-over-5xx"),
    pytest.param(build_output("#5 0.3 HTTP/1.1 503 Service Unavailable\n"
                              "#5 0.3 curl: (22) The requested URL returned error: 503\n"
                              "#5 0.3 unexpected EOF from mirror, connection reset",
                              'ERROR: failed to solve: process "/bin/sh -c ./fetch.sh" did not '
                              "complete successfully: exit code: 1"),
                 id="run-step-printed-503-but-exit-code"),
    pytest.param(build_output("#5 0.1 hello",
                              'ERROR: failed to solve: process "/bin/sh -c cat > /etc/app.conf '
                              '<<EOF\\nport=8080\\nEOF" did not complete successfully: '
                              "exit code: 1"),
                 id="heredoc-run-step-exit-code"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("output", TRANSIENT)
def test_transient(output: str) -> None:
    assert is_transient(output)


@pytest.mark.parametrize("output", PERMANENT)
def test_not_transient(output: str) -> None:
    assert not is_transient(output)


# --- error lines and short errors --------------------------------------------------------


def test_error_lines_are_the_stated_errors_deduplicated() -> None:
    output = ("#3 pushing layers\nERROR: failed to push: 503\n  \n"
              "ERROR: failed to push: 503\nerror: second\n#4 done\n")
    assert error_lines(output) == ["ERROR: failed to push: 503", "error: second"]


def test_error_lines_skip_build_output_lines() -> None:
    output = build_output("#5 0.2 ERROR: not at the start", "ERROR: failed to solve: boom")
    assert error_lines(output) == ["ERROR: failed to solve: boom"]


def test_error_lines_fall_back_to_the_last_three_lines() -> None:
    assert error_lines("one\ntwo\n\nthree\nfour\n  \n") == ["two", "three", "four"]


def test_error_lines_of_nothing() -> None:
    assert error_lines("") == []
    assert error_lines("\n  \n") == []


@pytest.mark.parametrize(("output", "expected"), [
    pytest.param('ERROR: failed to solve: process "/bin/sh -c false" did not complete '
                 "successfully: exit code: 1",
                 'process "/bin/sh -c false" did not complete successfully: exit code: 1',
                 id="both-prefixes"),
    pytest.param("ERROR: failed to push x: 401 Unauthorized", "failed to push x: 401 Unauthorized",
                 id="error-prefix"),
    pytest.param("#1 step\nError response from daemon: no such image",
                 "Error response from daemon: no such image", id="daemon-error-kept-whole"),
    pytest.param("ERROR: first\nERROR: second", "first", id="first-of-several"),
    pytest.param("just\nsome\noutput", "just", id="no-stated-error"),
    pytest.param("", "failed", id="empty"),
    pytest.param("   \n", "failed", id="blank"),
])
def test_short_error(output: str, expected: str) -> None:
    assert short_error(output) == expected


@pytest.mark.parametrize(("width", "length"), [(160, 160), (40, 40), (10, 10)],
                         ids=["default", "40", "10"])
def test_short_error_is_cut_to_width(width: int, length: int) -> None:
    text = short_error("ERROR: failed to solve: " + "x" * 500, width)
    assert len(text) == length
    assert text.endswith("…")
    assert text.startswith("xxx")


def test_short_error_at_exactly_the_width_is_kept() -> None:
    assert short_error("ERROR: " + "y" * 160) == "y" * 160


# --- the retry policy --------------------------------------------------------------------


class Flaky:
    """Fails `failures` times with `output`, then succeeds."""

    def __init__(self, failures: int, output: str) -> None:
        self.failures, self.output, self.calls = failures, output, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise CommandFailed("docker buildx build", self.output)
        return "ok"


def transient_failure(exc: BaseException) -> bool:
    return isinstance(exc, CommandFailed) and is_transient(exc.output)


NO_WAIT = RetryPolicy(attempts=3, first_wait=0)
FLAKE = f"{PUSH}unexpected status: 503 Service Unavailable"
DENIED = f"{PUSH}denied: requested access to the resource is denied"


@pytest.mark.parametrize(("failures", "calls", "retries"), [
    pytest.param(0, 1, [], id="no-failure"),
    pytest.param(1, 2, [1], id="one-failure"),
    pytest.param(2, 3, [1, 2], id="two-failures"),
])
def test_transient_failure_is_retried(failures: int, calls: int, retries: list[int]) -> None:
    attempt = Flaky(failures, FLAKE)
    seen: list[tuple[int, BaseException]] = []
    result = NO_WAIT.retrying(transient_failure, lambda n, exc: seen.append((n, exc)))(attempt)
    assert result == "ok"
    assert attempt.calls == calls
    assert [n for n, _ in seen] == retries
    assert all(isinstance(exc, CommandFailed) and exc.output == FLAKE for _, exc in seen)


def test_gives_up_after_the_attempts_and_raises_the_failure() -> None:
    attempt = Flaky(10, FLAKE)
    seen: list[int] = []
    with pytest.raises(CommandFailed) as caught:
        NO_WAIT.retrying(transient_failure, lambda n, _exc: seen.append(n))(attempt)
    assert caught.value.output == FLAKE
    assert attempt.calls == 3
    assert seen == [1, 2]


def test_permanent_failure_is_not_retried() -> None:
    attempt = Flaky(10, DENIED)
    seen: list[int] = []
    with pytest.raises(CommandFailed):
        NO_WAIT.retrying(transient_failure, lambda n, _exc: seen.append(n))(attempt)
    assert attempt.calls == 1
    assert seen == []


def test_other_exceptions_are_not_retried() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("a bug, not a registry")

    with pytest.raises(ValueError, match="a bug"):
        NO_WAIT.retrying(transient_failure, lambda _n, _exc: None)(broken)
    assert calls == [1]


def test_default_policy() -> None:
    policy = RetryPolicy()
    assert (policy.attempts, policy.first_wait, policy.max_wait, policy.deadline) == (
        30, 0.5, 10.0, 600.0)


def test_gives_up_at_the_deadline_whatever_the_attempts_left() -> None:
    attempt = Flaky(1000, FLAKE)
    policy = RetryPolicy(attempts=1000, first_wait=0.01, max_wait=0.01, deadline=0.2)
    with pytest.raises(CommandFailed):
        policy.retrying(transient_failure, lambda _n, _exc: None)(attempt)
    assert 2 <= attempt.calls < 1000


@pytest.mark.parametrize(("exc", "again"), [
    pytest.param(CommandFailed("docker push", "ERROR: 503 Service Unavailable"), True,
                 id="a-command-that-met-a-503"),
    pytest.param(CommandFailed("docker push", "ERROR: 401 Unauthorized"), False,
                 id="a-command-refused"),
    pytest.param(RuntimeError("503 Service Unavailable"), False, id="not-a-command"),
])
def test_the_one_predicate_for_a_command_worth_another_try(exc: BaseException,
                                                            again: bool) -> None:
    assert failed_transiently(exc) is again
