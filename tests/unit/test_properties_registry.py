"""Property tests of what comes back from registries and other runners: registry answers
(host/registry_http.py: `interpret`, the digest check, the token dance through
`RegistryHttp.read` with a scripted `get`; host/published.py `insecure`), build records
(core/record.py) and runner labels (core/runners.py `parse_runners`). Any answer ends in a
result or one of xbuild's errors (NeedsCredentials, which sends the read to skopeo, included),
within the bound (tests/unit/bounds.py)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.unit.bounds import MAX_INPUT, timed, within_bounds
from xbuild.core import record
from xbuild.core.answers import Published
from xbuild.core.errors import ConfigError, RegistryError, SelectionError
from xbuild.core.platforms import ARCHES
from xbuild.core.refs import Reference
from xbuild.core.runners import parse_runners
from xbuild.host.published import insecure
from xbuild.host.registry_http import Answer, NeedsCredentials, RegistryHttp, interpret

REF = Reference.parse("registry.example.org/ns/app:v1")
DIGEST = "sha256:" + "ab" * 32
json_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=20), st.sampled_from([DIGEST, "sha256:", "Labels", "config"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(
        st.one_of(st.sampled_from(["mediaType", "manifests", "config", "digest", "Labels",
                                   "token", "access_token"]), st.text(max_size=8)),
        inner, max_size=5)), max_leaves=25)
bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()))


def answered(call: Any) -> Any:
    try:
        return call()
    except (RegistryError, NeedsCredentials) as error:
        assert "\n" not in str(error), str(error)
        return error


@given(bodies, bodies)
@example(b'{"config": {"digest": "sha256:' + b"0" * 64 + b'"}}', b'{"config": [1]}')
@example(b"[" * 100_000, b"")  # regression: json's RecursionError escaped (a traceback)
@example(b'{"manifests": [{"digest": 1}, 2, null]}', b"")
def test_any_manifest_and_config_are_read_or_refused(manifest: bytes, config: bytes) -> None:
    found = timed("registry_http.interpret", lambda: answered(
        lambda: interpret(REF, manifest, DIGEST, lambda _wanted: config)))
    assert isinstance(found, Published | RegistryError)
    if isinstance(found, Published):
        assert all(isinstance(v, str) for v in found.labels.values())


@given(bodies.flatmap(lambda config: st.tuples(st.just(config), json_values)))
def test_a_config_served_under_its_digest_gives_string_labels(pair: tuple[bytes, Any]) -> None:
    config, _ = pair
    wanted = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps({"config": {"digest": wanted}}).encode()
    found = timed("registry_http.interpret", lambda: answered(
        lambda: interpret(REF, manifest, DIGEST, lambda _: config)))
    assert isinstance(found, Published | RegistryError)


STATUSES = st.sampled_from([200, 200, 200, 401, 403, 404, 429, 500, 302, 418])
HEADERS = st.dictionaries(
    st.sampled_from(["WWW-Authenticate", "www-authenticate", "Docker-Content-Digest",
                     "Content-Type", "X"]),
    st.one_of(st.text(max_size=60), st.sampled_from([
        'Bearer realm="https://auth.example.org/token",service="r"',
        'Bearer realm="http://auth.example.org/token"', 'Basic realm="r"',
        'Bearer realm="https://a.org/t",service="' + "s" * 200 + '"', DIGEST])),
    max_size=3)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(STATUSES, HEADERS, bodies), min_size=1, max_size=6))
@example([(401, {"WWW-Authenticate": 'Bearer realm="https://a.org/t"'}, b"{}")])
@example([(401, {"WWW-Authenticate": 'Bearer realm="https://a.org/t"'}, b""),
          (200, {}, b'{"token": "t"}'), (200, {}, b"[" * 5000)])
def test_any_conversation_with_a_registry_ends(tmp_path: Path,
                                               script: list[tuple[int, dict[str, str],
                                                                  bytes]]) -> None:
    answers = iter(script)

    def get(request: urllib.request.Request, limit: int) -> Answer:
        status, headers, body = next(answers, (404, {}, b""))
        return Answer(status, headers, body[:limit])

    reader = RegistryHttp(insecure=lambda _r: False, get=get, certs_d=tmp_path / "none")
    found = timed("registry_http.read", lambda: answered(lambda: reader.read(REF)))
    assert found is None or isinstance(found, Published | RegistryError | NeedsCredentials)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(bodies, st.just(b"[" * 50_000)))
def test_any_daemon_json_says_insecure_or_not(tmp_path: Path, data: bytes) -> None:
    config = tmp_path / "daemon.json"
    config.write_bytes(data)
    assert timed("published.insecure", lambda: insecure("r.example.org:5000", config)) in (
        True, False)


# --- build records of other runners ------------------------------------------------------

ENTRY_KEYS = ("target", "image", "arch", "ref", "identity", "digest", "status")
entries = st.dictionaries(st.sampled_from(ENTRY_KEYS), st.one_of(
    st.text(max_size=20), st.just(DIGEST), st.integers(), st.none()), max_size=8)
records = st.one_of(
    json_values,
    st.fixed_dictionaries({"version": st.sampled_from([1, 1, 2, "1"]),
                           "namespace": st.one_of(st.text(max_size=10), st.none()),
                           "tag": st.text(max_size=10),
                           "targets": st.lists(entries, max_size=5)}))


def parsed_record(text: str) -> object:
    try:
        return record.parse(Path("build-record.json"), text)
    except ConfigError as error:
        assert "\n" not in str(error) and str(error).startswith("build-record.json"), str(error)
        return error


@given(st.one_of(records.map(json.dumps), st.text(max_size=300)))
@example("[" * 100_000)  # regression: json's RecursionError escaped (a traceback)
@example('{"version": 1, "namespace": "n", "tag": "t", "targets": [{"target": "x\\n::error"}]}')
def test_any_record_is_read_or_refused(text: str) -> None:
    timed("record.parse", lambda: parsed_record(text))


def test_the_largest_record_within_bounds() -> None:
    entry = {"target": "app-amd64", "image": "app", "arch": "amd64", "ref": "n/app:t-amd64",
             "identity": DIGEST, "digest": DIGEST, "status": "pushed"}
    count = record.MAX_BYTES // (len(json.dumps(entry)) + 2)
    text = json.dumps({"version": 1, "namespace": "n", "tag": "t", "targets": [entry] * count})
    found = within_bounds("record.parse", lambda: parsed_record(text),
                          test=f"{count} targets, {len(text) >> 20} MiB")
    assert isinstance(found, tuple) and len(found[2]) == count


# --- runner labels (--runner ARCH=LABEL,...) ----------------------------------------------

@given(st.lists(st.one_of(
    st.text(max_size=40),
    st.tuples(st.sampled_from(["amd64", "arm64v8", "i386", "", "AMD64"]), st.just("="),
              st.text("abcXY19._-, =\n", max_size=40)).map("".join)), max_size=5))
@example(["amd64=" + "a" * 100, "amd64=" + "a" * 101])
@example(["amd64=x", "amd64=y"])
def test_any_runner_option_is_labels_or_refused(values: list[str]) -> None:
    def parse() -> object:
        try:
            return parse_runners(values, ARCHES[:3])
        except SelectionError as error:
            assert "\n" not in str(error), str(error)
            return error
    timed("workflow.parse_runners", parse)


@pytest.mark.parametrize("value", [
    pytest.param("amd64=" + ",".join(["a"] * (MAX_INPUT // 2)), id="many-labels"),
    pytest.param("amd64=" + "a" * MAX_INPUT, id="one-long-label"),
    pytest.param("=" * MAX_INPUT, id="only-equals"),
])
def test_worst_runner_options_within_bounds(value: str) -> None:
    def parse() -> object:
        try:
            return parse_runners([value], ARCHES[:3])
        except SelectionError as error:
            return error
    within_bounds("workflow.parse_runners", parse, test=value[:12])


def test_records_that_disagree_over_a_hostile_target_name_say_so_on_one_line() -> None:
    entry = record.Entry(target="x\n::error::owned", image="x", arch="amd64", ref="n/x:t",
                         identity=DIGEST, digest=DIGEST)
    other = record.Entry(target=entry.target, image="x", arch="amd64", ref="n/x:t",
                         identity="sha256:" + "cd" * 32, digest=DIGEST)
    with pytest.raises(ConfigError) as caught:
        record.merge([(Path("one.json"), [entry]), (Path("two.json"), [other])])
    assert str(caught.value).startswith("x ::error::owned: one.json and two.json disagree")
    assert "\n" not in str(caught.value)
