"""images/orthanc/orthanc_config.py, loaded by file path for the tests of it.

The generator runs inside the image with Debian's python3 only, so it is not a package of
this project.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

GENERATOR = Path(__file__).parents[2] / "images" / "orthanc" / "orthanc_config.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("xbuild_image_orthanc_config", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


oc = _load_generator()
