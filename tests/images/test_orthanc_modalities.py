"""images/orthanc/orthanc_config.py: DICOM modalities given as `AET,HOST,PORT`, as the CIRR
stack's cirr.env writes them (MOD_PACS=PACS,10.0.0.1,11112)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.images.orthanc_generator import oc


def write(tmp_path: Path, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Run the generator as the entrypoint does; (exit status, the configuration written)."""
    for folder in ("etc", "secrets", "plugins"):
        (tmp_path / folder).mkdir(exist_ok=True)
    output = tmp_path / "orthanc.json"
    status = oc.main([f"--output={output}", f"--etc-dir={tmp_path / 'etc'}",
                      f"--secrets-dir={tmp_path / 'secrets'}",
                      f"--plugins-dir={tmp_path / 'plugins'}"], env)
    return status, json.loads(output.read_text()) if output.exists() else {}


def test_a_modality_variable_in_cirr_env_form_becomes_orthancs_list(tmp_path: Path) -> None:
    status, config = write(tmp_path, {
        "ORTHANC__DICOM_MODALITIES__PACS": "PACS,10.0.0.1,11112",
        "ORTHANC__DICOM_MODALITIES__WORKSTATION": " TERARECON , ws.example , 104 "})
    assert status == 0
    assert config["DicomModalities"] == {"Pacs": ["PACS", "10.0.0.1", 11112],
                                         "Workstation": ["TERARECON", "ws.example", 104]}


def test_modalities_already_in_orthancs_forms_are_kept(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "modalities.json").write_text(json.dumps({"DicomModalities": {
        "listed": ["A", "h", 1], "object": {"AET": "B", "Host": "h", "Port": 2}}}))
    status, config = write(tmp_path, {"ORTHANC__DICOM_MODALITIES__ROUTER": "CIRRMUX,router,4242"})
    assert status == 0
    assert config["DicomModalities"] == {"listed": ["A", "h", 1],
                                         "object": {"AET": "B", "Host": "h", "Port": 2},
                                         "Router": ["CIRRMUX", "router", 4242]}


@pytest.mark.parametrize(("value", "problem"), [
    ("PACS,10.0.0.1", "expected AET,HOST,PORT, got 'PACS,10.0.0.1'"),
    ("PACS,,11112", "expected AET,HOST,PORT, got 'PACS,,11112'"),
    ("PACS,10.0.0.1,11112,x", "expected AET,HOST,PORT, got 'PACS,10.0.0.1,11112,x'"),
    ("PACS,10.0.0.1,port", "port must be a number from 1 to 65535, got 'port'"),
    ("PACS,10.0.0.1,0", "port must be a number from 1 to 65535, got '0'"),
    ("PACS,10.0.0.1,65536", "port must be a number from 1 to 65535, got '65536'"),
    ("SEVENTEEN-LETTERS,h,1", "AET 'SEVENTEEN-LETTERS' is longer than 16 characters"),
])
def test_a_malformed_modality_is_refused_in_one_line_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, problem: str) -> None:
    status, _ = write(tmp_path, {"ORTHANC__DICOM_MODALITIES__PACS": value})
    assert status == 2
    assert capsys.readouterr().err == f"orthanc-config: error: DicomModalities.Pacs: {problem}\n"
