"""Unit tests for images/orthanc/orthanc_config.py, the Orthanc configuration generator.

The generator runs inside the image with Debian's python3 only, so it is not a
package of this project: it is loaded by file path.  Every test points it at
temporary directories and an explicit environment, never at the real system.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.images.orthanc_generator import GENERATOR, oc

DEFAULT_ON = ["libOrthancDicomWeb.so", "libOrthancGdcm.so", "libOrthancWebViewer.so"]
ALL_LIBRARIES = sorted({lib for plugin in oc.PLUGINS.values() for lib in plugin.libraries})


@dataclass
class Dirs:
    etc: Path
    secrets: Path
    plugins: Path
    output: Path

    def build(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        config: dict[str, Any] = oc.build_config(env or {}, self.etc, self.secrets, self.plugins)
        return config

    def argv(self) -> list[str]:
        return [
            f"--output={self.output}",
            f"--etc-dir={self.etc}",
            f"--secrets-dir={self.secrets}",
            f"--plugins-dir={self.plugins}",
        ]

    def main(self, env: Mapping[str, str]) -> int:
        code: int = oc.main(self.argv(), env)
        return code

    def install(self, *libraries: str) -> None:
        for library in libraries:
            (self.plugins / library).write_bytes(b"")


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    result = Dirs(
        etc=tmp_path / "etc-orthanc",
        secrets=tmp_path / "secrets",
        plugins=tmp_path / "plugins",
        output=tmp_path / "run" / "orthanc.json",
    )
    for directory in (result.etc, result.secrets, result.plugins):
        directory.mkdir()
    return result


def write_json(path: Path, document: Mapping[str, Any] | str) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


# --- names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "path"),
    [
        pytest.param("ORTHANC__NAME", ["Name"], id="one-word"),
        pytest.param("ORTHANC__DICOM_AET", ["DicomAet"], id="two-words"),
        pytest.param("ORTHANC__REMOTE_ACCESS_ALLOWED", ["RemoteAccessAllowed"], id="three"),
        pytest.param("ORTHANC__DICOM_WEB__ROOT", ["DicomWeb", "Root"], id="section"),
        pytest.param("ORTHANC__WEB_DAV_ENABLED", ["WebDavEnabled"], id="webdav"),
        pytest.param(
            "ORTHANC__ORTHANC_EXPLORER_2__IS_DEFAULT_ORTHANC_UI",
            ["OrthancExplorer2", "IsDefaultOrthancUi"],
            id="digit-word",
        ),
        pytest.param(
            "ORTHANC__JPEG2000_TRANSFER_SYNTAX_ACCEPTED",
            ["Jpeg2000TransferSyntaxAccepted"],
            id="digits-in-word",
        ),
        pytest.param("ORTHANC__stable_age", ["StableAge"], id="lower-case"),
        pytest.param("ORTHANC__A__B__C_D", ["A", "B", "CD"], id="three-levels"),
    ],
)
def test_variable_names_follow_the_capitalisation_rule(variable: str, path: list[str]) -> None:
    assert oc.key_path(variable) == path


@pytest.mark.parametrize(
    ("variable", "path"),
    [
        pytest.param("ORTHANC__CASE_SENSITIVE_PN", ["CaseSensitivePN"], id="pn"),
        pytest.param("ORTHANC__HTTPS_CA_CERTIFICATES", ["HttpsCACertificates"], id="ca"),
        pytest.param("ORTHANC__STORE_MD5_FOR_ATTACHMENTS", ["StoreMD5ForAttachments"], id="md5"),
        pytest.param("ORTHANC__POSTGRESQL__PASSWORD", ["PostgreSQL", "Password"], id="pgsql"),
        pytest.param("ORTHANC__MYSQL__UNIX_SOCKET", ["MySQL", "UnixSocket"], id="mysql"),
        pytest.param(
            "ORTHANC__DICOM_MODALITIES__PACS__AET", ["DicomModalities", "Pacs", "AET"], id="aet"
        ),
    ],
)
def test_exceptions_give_the_names_the_rule_cannot(variable: str, path: list[str]) -> None:
    assert oc.key_path(variable) == path


def test_exceptions_only_hold_names_the_rule_gets_wrong() -> None:
    for level, key in oc.NAME_EXCEPTIONS.items():
        rule = "".join(word[:1].upper() + word[1:].lower() for word in level.split("_"))
        assert rule != key, level


# --- values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        pytest.param("8042", 8042, id="int"),
        pytest.param("-1", -1, id="negative"),
        pytest.param("0.5", 0.5, id="float"),
        pytest.param("true", True, id="true"),
        pytest.param("false", False, id="false"),
        pytest.param("null", None, id="null"),
        pytest.param('["1.2.840.10008.1.*", "x"]', ["1.2.840.10008.1.*", "x"], id="list"),
        pytest.param('{"pacs": ["PACS", "host", 104]}', {"pacs": ["PACS", "host", 104]}, id="obj"),
        pytest.param('"8042"', "8042", id="quoted-number-stays-string"),
        pytest.param("ORTHANC", "ORTHANC", id="word"),
        pytest.param("True", "True", id="not-json-true"),
        pytest.param("http://peer:8042/", "http://peer:8042/", id="url"),
        pytest.param("[unclosed", "[unclosed", id="broken-json-is-string"),
        pytest.param("", "", id="empty"),
        pytest.param("NaN", "NaN", id="nan-is-not-json"),
        pytest.param("[1, Infinity]", "[1, Infinity]", id="infinity-is-not-json"),
    ],
)
def test_values_are_json_when_they_parse_else_strings(raw: str, value: Any) -> None:
    assert oc.parse_value(raw) == value


def test_environment_values_reach_the_configuration_typed(dirs: Dirs) -> None:
    config = dirs.build(
        {
            "ORTHANC__DICOM_PORT": "104",
            "ORTHANC__DICOM_AET": "MYAET",
            "ORTHANC__STORAGE_COMPRESSION": "true",
            "ORTHANC__LUA_SCRIPTS": '["/scripts/a.lua"]',
            "UNRELATED": "ignored",
            "ORTHANC_NAME": "single underscore: not a configuration variable",
        }
    )
    assert config["DicomPort"] == 104
    assert config["DicomAet"] == "MYAET"
    assert config["StorageCompression"] is True
    assert config["LuaScripts"] == ["/scripts/a.lua"]
    assert "Unrelated" not in config
    assert "Name" not in config


# --- JSON with comments --------------------------------------------------------

DEBIAN_STYLE = r"""{
  /**
   * General configuration of Orthanc
   **/

  // The logical name of this instance of Orthanc.
  "Name" : "Orthanc",   // trailing comment
  "Peer" : "http://peer:8042/",
  "Tricky" : "/* not a comment */ and // neither",
  "Escaped" : "quote \" // still a string",
  /**
     "AuthenticationEnabled" : false,
   **/
  "Plugins" : [
    "/usr/share/orthanc/plugins/"  /* inline block */
  ]
}
"""


def test_comments_are_stripped_outside_strings_only() -> None:
    assert oc.parse_json_object(DEBIAN_STYLE, "test") == {
        "Name": "Orthanc",
        "Peer": "http://peer:8042/",
        "Tricky": "/* not a comment */ and // neither",
        "Escaped": 'quote " // still a string',
        "Plugins": ["/usr/share/orthanc/plugins/"],
    }


def test_comment_stripping_keeps_line_numbers() -> None:
    assert oc.strip_comments(DEBIAN_STYLE).count("\n") == DEBIAN_STYLE.count("\n")


def test_debian_style_files_in_etc_are_read(dirs: Dirs) -> None:
    write_json(dirs.etc / "orthanc.json", DEBIAN_STYLE)
    assert dirs.build()["Peer"] == "http://peer:8042/"


# --- merging and precedence ------------------------------------------------------


def test_deep_merge_merges_objects_and_replaces_everything_else() -> None:
    base = {"DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "LuaScripts": ["a.lua"], "N": 1}
    override = {"DicomWeb": {"Root": "/dw/"}, "LuaScripts": ["b.lua"], "N": {"x": 1}}
    assert oc.deep_merge(base, override) == {
        "DicomWeb": {"Enable": True, "Root": "/dw/"},
        "LuaScripts": ["b.lua"],
        "N": {"x": 1},
    }
    assert base["DicomWeb"] == {"Enable": True, "Root": "/dicom-web/"}, "input mutated"


def test_sections_merge_across_sources(dirs: Dirs) -> None:
    write_json(dirs.etc / "dicomweb.json", {"DicomWeb": {"Enable": True, "Root": "/dicom-web/"}})
    write_json(dirs.secrets / "servers.json", {"DicomWeb": {"Servers": {"a": ["http://a/"]}}})
    config = dirs.build(
        {
            "ORTHANC__DICOM_WEB__ROOT": "/dw/",
            "ORTHANC_JSON": '{"DicomWeb": {"Ssl": true}}',
        }
    )
    assert config["DicomWeb"] == {
        "Enable": True,
        "Root": "/dw/",
        "Servers": {"a": ["http://a/"]},
        "Ssl": True,
    }


def test_etc_files_apply_in_name_order(dirs: Dirs) -> None:
    write_json(dirs.etc / "b.json", {"Name": "from b"})
    write_json(dirs.etc / "a.json", {"Name": "from a", "DicomAet": "A"})
    write_json(dirs.etc / "notes.txt", "not json, not read")
    config = dirs.build()
    assert (config["Name"], config["DicomAet"]) == ("from b", "A")


SOURCES = ["etc", "secret-json", "env", "orthanc-json", "secret-var"]


@pytest.mark.parametrize("top", SOURCES)
def test_later_sources_win(dirs: Dirs, top: str) -> None:
    env: dict[str, str] = {}
    present = SOURCES[: SOURCES.index(top) + 1]
    if "etc" in present:
        write_json(dirs.etc / "orthanc.json", {"Name": "etc"})
    if "secret-json" in present:
        write_json(dirs.secrets / "orthanc.json", {"Name": "secret-json"})
    if "env" in present:
        env["ORTHANC__NAME"] = "env"
    if "orthanc-json" in present:
        env["ORTHANC_JSON"] = '{"Name": "orthanc-json"}'
    if "secret-var" in present:
        (dirs.secrets / "ORTHANC__NAME").write_text("secret-var\n")
    assert dirs.build(env)["Name"] == top


def test_container_defaults_are_the_lowest_layer(dirs: Dirs) -> None:
    assert dirs.build()["RemoteAccessAllowed"] is True
    assert dirs.build()["StorageDirectory"] == "/var/lib/orthanc/db"
    write_json(dirs.etc / "orthanc.json", {"RemoteAccessAllowed": False})
    assert dirs.build()["RemoteAccessAllowed"] is False


# --- secrets -------------------------------------------------------------------


def test_variable_named_secrets_are_stripped_and_parsed(dirs: Dirs) -> None:
    (dirs.secrets / "ORTHANC__POSTGRESQL__PASSWORD").write_text("  s3cr3t  \n")
    (dirs.secrets / "ORTHANC__POSTGRESQL__PORT").write_text("5433\n")
    (dirs.secrets / "db_password").write_text("not for orthanc")
    write_json(dirs.secrets / "users.json", {"RegisteredUsers": {"alice": "pw"}})
    config = dirs.build({"POSTGRESQL_PLUGIN_ENABLED": "false"})
    assert config["PostgreSQL"] == {"Password": "s3cr3t", "Port": 5433}
    assert config["RegisteredUsers"] == {"alice": "pw"}
    assert "DbPassword" not in config


def test_missing_directories_are_no_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    config = oc.build_config({"ORTHANC__NAME": "x"}, missing, missing, missing)
    assert config["Name"] == "x"
    assert config["Plugins"] == []


# --- authentication --------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "enabled"),
    [
        pytest.param({}, False, id="no-users"),
        pytest.param({"RegisteredUsers": {}}, False, id="empty-users"),
        pytest.param({"RegisteredUsers": {"alice": "pw"}}, True, id="users"),
        pytest.param(
            {"RegisteredUsers": {"alice": "pw"}, "AuthenticationEnabled": False},
            False,
            id="explicit-wins",
        ),
        pytest.param({"AuthenticationEnabled": True}, True, id="explicit-on"),
    ],
)
def test_authentication_follows_registered_users_unless_set(
    dirs: Dirs, document: dict[str, Any], enabled: bool
) -> None:
    write_json(dirs.etc / "credentials.json", document)
    assert dirs.build()["AuthenticationEnabled"] is enabled


# --- plugins -------------------------------------------------------------------


def plugin_paths(dirs: Dirs, *libraries: str) -> list[str]:
    return [str(dirs.plugins / library) for library in libraries]


def test_default_plugins_without_any_setting(dirs: Dirs) -> None:
    dirs.install(*ALL_LIBRARIES)
    config = dirs.build()
    assert sorted(config["Plugins"]) == plugin_paths(dirs, *sorted(DEFAULT_ON))
    assert config["DicomWeb"] == {"Enable": True}
    assert "PostgreSQL" not in config


# What Debian 13 puts in /usr/share/orthanc/plugins: the orthanc 1.12.7 package's five, and
# those of orthanc-dicomweb, -gdcm, -mysql, -neuro, -postgresql, -python, -webviewer, -wsi.
DEBIAN_13_LIBRARIES = [
    "libDelayedDeletion.so", "libHousekeeper.so", "libModalityWorklists.so",
    "libMultitenantDicom.so", "libServeFolders.so", "libOrthancDicomWeb.so",
    "libOrthancGdcm.so", "libOrthancMySQLIndex.so", "libOrthancMySQLStorage.so",
    "libOrthancNeuro.so", "libOrthancPostgreSQLIndex.so", "libOrthancPostgreSQLStorage.so",
    "libOrthancPython.so", "libOrthancWebViewer.so", "libOrthancWSI.so"]


def test_every_library_debian_13_ships_has_a_switch() -> None:
    assert sorted(DEBIAN_13_LIBRARIES) == ALL_LIBRARIES


def test_orthanc_1_12s_own_plugins_are_off_until_asked_for(dirs: Dirs) -> None:
    dirs.install(*DEBIAN_13_LIBRARIES)
    own = plugin_paths(dirs, "libHousekeeper.so", "libDelayedDeletion.so",
                       "libMultitenantDicom.so")
    assert not set(own) & set(dirs.build()["Plugins"])
    config = dirs.build({"HOUSEKEEPER_PLUGIN_ENABLED": "true",
                         "DELAYED_DELETION_PLUGIN_ENABLED": "yes",
                         "MULTITENANT_DICOM_PLUGIN_ENABLED": "1"})
    assert set(own) <= set(config["Plugins"])
    # Housekeeper and DelayedDeletion do nothing unless their section says Enable.
    assert (config["Housekeeper"], config["DelayedDeletion"]) == ({"Enable": True},) * 2
    assert "MultitenantDicom" not in config


@pytest.mark.parametrize("name", sorted(oc.PLUGINS))
def test_each_plugin_is_switched_on_and_off_by_its_variable(dirs: Dirs, name: str) -> None:
    dirs.install(*ALL_LIBRARIES)
    libraries = plugin_paths(dirs, *oc.PLUGINS[name].libraries)
    enabled = dirs.build({f"{name}_PLUGIN_ENABLED": "true"})["Plugins"]
    disabled = dirs.build({f"{name}_PLUGIN_ENABLED": "false"})["Plugins"]
    assert all(lib in enabled for lib in libraries)
    assert not any(lib in disabled for lib in libraries)


def test_a_configuration_section_enables_its_plugin(dirs: Dirs) -> None:
    dirs.install(*ALL_LIBRARIES)
    config = dirs.build(
        {"ORTHANC__POSTGRESQL__HOST": "db", "ORTHANC__PYTHON_SCRIPT": "/scripts/a.py"}
    )
    assert set(plugin_paths(dirs, "libOrthancPostgreSQLIndex.so", "libOrthancPython.so")) <= set(
        config["Plugins"]
    )
    assert config["PostgreSQL"] == {"Host": "db", "EnableIndex": True}


def test_an_explicit_false_beats_a_present_section(dirs: Dirs) -> None:
    dirs.install(*ALL_LIBRARIES)
    write_json(dirs.etc / "postgresql.json", {"PostgreSQL": {"Host": "db"}})
    config = dirs.build({"POSTGRESQL_PLUGIN_ENABLED": "false"})
    assert not any("PostgreSQL" in path for path in config["Plugins"])
    assert config["PostgreSQL"] == {"Host": "db"}, "defaults applied to a disabled plugin"


def test_plugin_defaults_never_override_the_user(dirs: Dirs) -> None:
    dirs.install(*ALL_LIBRARIES)
    config = dirs.build(
        {"ORTHANC__DICOM_WEB__ENABLE": "false", "ORTHANC__POSTGRESQL__ENABLE_INDEX": "false"}
    )
    assert config["DicomWeb"] == {"Enable": False}
    assert config["PostgreSQL"] == {"EnableIndex": False}


def test_plugins_not_installed_are_left_out(dirs: Dirs, capsys: pytest.CaptureFixture[str]) -> None:
    dirs.install("libOrthancGdcm.so", "libOrthancPostgreSQLIndex.so")
    config = dirs.build({"POSTGRESQL_PLUGIN_ENABLED": "true"})
    assert config["Plugins"] == plugin_paths(dirs, "libOrthancGdcm.so")
    assert "PostgreSQL" not in config
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1, "default-on plugins that are absent must not warn"
    assert "POSTGRESQL_PLUGIN_ENABLED" in warnings[0]
    assert "libOrthancPostgreSQLStorage.so" in warnings[0]


def test_the_managed_plugins_directory_is_replaced_and_user_plugins_kept(dirs: Dirs) -> None:
    dirs.install("libOrthancGdcm.so")
    debian = {"Plugins": [f"{dirs.plugins}/", f"{dirs.plugins}/libServeFolders.so", "/opt/x.so"]}
    write_json(dirs.etc / "orthanc.json", debian)
    config = dirs.build({"DICOM_WEB_PLUGIN_ENABLED": "false"})
    assert config["Plugins"] == ["/opt/x.so", *plugin_paths(dirs, "libOrthancGdcm.so")]


def test_an_unknown_plugin_variable_is_warned_about(
    dirs: Dirs, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs.build({"STONE_WEB_VIEWER_PLUGIN_ENABLED": "true"})
    assert "STONE_WEB_VIEWER_PLUGIN_ENABLED: no such plugin" in capsys.readouterr().err


# --- flags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "flags"),
    [
        pytest.param({}, [], id="none"),
        pytest.param({"VERBOSE_ENABLED": "true"}, ["--verbose"], id="verbose"),
        pytest.param({"TRACE_ENABLED": "TRUE"}, ["--trace"], id="trace-any-case"),
        pytest.param({"NO_JOBS": "yes"}, ["--no-jobs"], id="no-jobs"),
        pytest.param({"UNLOCK": "1"}, ["--unlock"], id="unlock"),
        pytest.param({"VERBOSE_ENABLED": "false", "UNLOCK": "0"}, [], id="off"),
        pytest.param({"VERBOSE_ENABLED": ""}, [], id="empty-is-off"),
        pytest.param(
            {"VERBOSE_ENABLED": "true", "TRACE_ENABLED": "true", "NO_JOBS": "true"},
            ["--verbose", "--trace", "--no-jobs"],
            id="several",
        ),
    ],
)
def test_flag_variables_give_orthanc_options(env: dict[str, str], flags: list[str]) -> None:
    assert oc.orthanc_flags(env) == flags


def test_main_writes_the_configuration_and_prints_the_flags(
    dirs: Dirs, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dirs.main({"ORTHANC__NAME": "main", "VERBOSE_ENABLED": "true", "NO_JOBS": "true"}) == 0
    assert capsys.readouterr().out.split() == ["--verbose", "--no-jobs"]
    assert json.loads(dirs.output.read_text())["Name"] == "main"
    assert stat.S_IMODE(dirs.output.stat().st_mode) == 0o600


# --- masking -------------------------------------------------------------------


@pytest.mark.parametrize(("config", "masked"), [
    pytest.param({"OrthancPeers": {"p": {"Url": "https://p/", "Username": "u",
                                         "Password": "pw",
                                         "HttpHeaders": {"Authorization": "Bearer abc",
                                                         "X-Api-Key": "k", "Accept": "x"}}}},
                 {"OrthancPeers": {"p": {"Url": "https://p/", "Username": "u",
                                         "Password": "***",
                                         "HttpHeaders": {"Authorization": "***",
                                                         "X-Api-Key": "***", "Accept": "***"}}}},
                 id="peer-http-headers"),
    pytest.param({"Webhook": {"Url": "https://h/x?token=t0k3n&v=1&sig=s1g"}},
                 {"Webhook": {"Url": "https://h/x?token=***&v=1&sig=***"}}, id="url-query"),
    pytest.param({"AzureBlobStorage": {"ConnectionString":
                  "DefaultEndpointsProtocol=https;AccountName=acc;AccountKey=S3cr3t==;"
                  "EndpointSuffix=core.windows.net"}},
                 {"AzureBlobStorage": {"ConnectionString":
                  "DefaultEndpointsProtocol=https;AccountName=acc;AccountKey=***;"
                  "EndpointSuffix=core.windows.net"}}, id="azure-account-key"),
    pytest.param({"PostgreSQL": {"ConnectionUri":
                  "postgresql://db/orthanc?sslmode=verify-full&sslpassword=kp"}},
                 {"PostgreSQL": {"ConnectionUri":
                  "postgresql://db/orthanc?sslmode=verify-full&sslpassword=***"}},
                 id="libpq-sslpassword"),
    pytest.param({"PostgreSQL": {"ConnectionUri": "host=db dbname=o user=u password=pw"}},
                 {"PostgreSQL": {"ConnectionUri": "host=db dbname=o user=u password=***"}},
                 id="libpq-keywords"),
    pytest.param({"AwsS3Storage": {"AccessKey": "AKIA", "SecretKey": "s", "Region": "eu"}},
                 {"AwsS3Storage": {"AccessKey": "***", "SecretKey": "***", "Region": "eu"}},
                 id="s3"),
    pytest.param({"DicomWeb": {"Servers": {"s": {"Url": "https://s/",
                                                 "CertificateKeyPassword": "c"}}}},
                 {"DicomWeb": {"Servers": {"s": {"Url": "https://s/",
                                                 "CertificateKeyPassword": "***"}}}},
                 id="certificate-key-password"),
])
def test_mask_secrets_covers_the_credentials_the_orthanc_book_documents(
        config: dict[str, Any], masked: dict[str, Any]) -> None:
    assert oc.mask_secrets(config) == masked


def test_mask_secrets_hides_secret_values_only() -> None:
    config = {
        "Name": "Orthanc",
        "KeepAlive": True,
        "RegisteredUsers": {"alice": "alicePassword"},
        "PostgreSQL": {"Host": "db", "Password": "pg-pw"},
        "DicomTlsPrivateKey": "/etc/key.pem",
        "Authorization": {"WebServiceToken": "t", "WebServiceCredentials": {"u": "p"}},
        "ClientSecret": "s",
        "OrthancPeers": {"peer": ["http://peer/", "bob", "bobPassword"], "open": ["http://o/"]},
        "DicomWeb": {"Servers": {"s": ["http://s/", "carol", "carolPassword"]}},
        "Storage": "postgresql://user:uri-pw@db:5432/orthanc",
    }
    assert oc.mask_secrets(config) == {
        "Name": "Orthanc",
        "KeepAlive": True,
        "RegisteredUsers": {"alice": "***"},
        "PostgreSQL": {"Host": "db", "Password": "***"},
        "DicomTlsPrivateKey": "***",
        "Authorization": {"WebServiceToken": "***", "WebServiceCredentials": "***"},
        "ClientSecret": "***",
        "OrthancPeers": {"peer": ["http://peer/", "bob", "***"], "open": ["http://o/"]},
        "DicomWeb": {"Servers": {"s": ["http://s/", "carol", "***"]}},
        "Storage": "postgresql://user:***@db:5432/orthanc",
    }
    assert config["RegisteredUsers"] == {"alice": "alicePassword"}, "input mutated"


def test_verbose_startup_prints_the_masked_configuration(
    dirs: Dirs, capsys: pytest.CaptureFixture[str]
) -> None:
    (dirs.secrets / "ORTHANC__POSTGRESQL__PASSWORD").write_text("pg-secret")
    write_json(dirs.etc / "credentials.json", {"RegisteredUsers": {"alice": "alice-secret"}})
    env = {"VERBOSE_STARTUP": "true", "ORTHANC__NAME": "shown", "POSTGRESQL_PLUGIN_ENABLED": "0"}
    assert dirs.main(env) == 0
    err = capsys.readouterr().err
    assert '"Name": "shown"' in err
    assert '"alice": "***"' in err
    assert "pg-secret" not in err and "alice-secret" not in err
    assert json.loads(dirs.output.read_text())["PostgreSQL"]["Password"] == "pg-secret"


def test_no_configuration_is_printed_without_verbose_startup(
    dirs: Dirs, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dirs.main({"ORTHANC__NAME": "quiet"}) == 0
    assert capsys.readouterr().err == ""


# --- bad input -------------------------------------------------------------------


@dataclass
class Bad:
    env: dict[str, str]
    files: dict[str, str]  # "etc/NAME" or "secrets/NAME" -> content
    named: str  # what the message must name ("{tmp}" stands for the temporary dir)


BAD_INPUTS = {
    "prefix-alone": Bad({"ORTHANC__": "x"}, {}, "ORTHANC__:"),
    "empty-level": Bad({"ORTHANC__A____B": "x"}, {}, "ORTHANC__A____B:"),
    "trailing-separator": Bad({"ORTHANC__NAME__": "x"}, {}, "ORTHANC__NAME__:"),
    "three-underscores": Bad({"ORTHANC__A___B": "x"}, {}, "ORTHANC__A___B:"),
    "bad-character": Bad({"ORTHANC__A.B": "x"}, {}, "ORTHANC__A.B:"),
    "orthanc-json-invalid": Bad({"ORTHANC_JSON": "{not json"}, {}, "ORTHANC_JSON: invalid JSON"),
    "orthanc-json-not-object": Bad({"ORTHANC_JSON": "[1, 2]"}, {}, "ORTHANC_JSON: expected"),
    "flag-not-boolean": Bad({"VERBOSE_ENABLED": "maybe"}, {}, "VERBOSE_ENABLED:"),
    "verbose-startup-not-boolean": Bad({"VERBOSE_STARTUP": "2"}, {}, "VERBOSE_STARTUP:"),
    "plugin-not-boolean": Bad({"GDCM_PLUGIN_ENABLED": "perhaps"}, {}, "GDCM_PLUGIN_ENABLED:"),
    "etc-file-invalid": Bad(
        {}, {"etc/broken.json": '{"Name": }'}, "{tmp}/etc-orthanc/broken.json: invalid JSON"
    ),
    "etc-file-unterminated-comment": Bad(
        {}, {"etc/c.json": '{"Name": "x"} /* open'}, "{tmp}/etc-orthanc/c.json:"
    ),
    "etc-file-not-object": Bad({}, {"etc/list.json": "[]"}, "{tmp}/etc-orthanc/list.json:"),
    "secret-json-invalid": Bad({}, {"secrets/s.json": "{"}, "{tmp}/secrets/s.json:"),
    "secret-var-malformed": Bad(
        {}, {"secrets/ORTHANC__A____B": "x"}, "{tmp}/secrets/ORTHANC__A____B:"
    ),
    "plugins-not-a-list": Bad({"ORTHANC__PLUGINS": "/opt/x.so"}, {}, "Plugins:"),
}


def _prepare(dirs: Dirs, bad: Bad) -> None:
    for name, content in bad.files.items():
        where, filename = name.split("/")
        (dirs.etc if where == "etc" else dirs.secrets).joinpath(filename).write_text(content)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_naming_it_and_exit_2(
    dirs: Dirs, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    bad = BAD_INPUTS[case]
    _prepare(dirs, bad)
    assert dirs.main(bad.env) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("orthanc-config: error: " + bad.named.format(tmp=tmp_path))
    assert captured.out == ""
    assert not dirs.output.exists()


@pytest.mark.allow_subprocess
def test_bad_input_in_a_subprocess_exits_2_without_traceback(dirs: Dirs) -> None:
    (dirs.secrets / "ORTHANC__POSTGRESQL__PASSWORD").write_text("hunter2")
    result = subprocess.run(
        [sys.executable, str(GENERATOR), *dirs.argv()],
        env={"ORTHANC__DICOM__": "x", "VERBOSE_ENABLED": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("orthanc-config: error: ORTHANC__DICOM__: malformed name")
    assert "Traceback" not in result.stderr
    assert not dirs.output.exists()


@pytest.mark.allow_subprocess
def test_the_cli_succeeds_in_a_subprocess(dirs: Dirs) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), *dirs.argv()],
        env={"ORTHANC__HTTP_PORT": "8043", "TRACE_ENABLED": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "--trace\n", "")
    assert json.loads(dirs.output.read_text())["HttpPort"] == 8043
