"""The wheel carries what a user of the package needs: types, the licence, project URLs, the schemas."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from auditor.schemas import SCHEMAS, file_name
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # builds the wheel (~15 s: pip sets up an isolated hatchling)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO), "-w", str(out)],
                           capture_output=True, text=True, check=False, timeout=300)
    if built.returncode != 0 and "hatchling" in built.stderr and "No matching distribution" in built.stderr:
        pytest.skip("hatchling (the build backend) is not available to pip here")
    assert built.returncode == 0, built.stderr[-2000:]
    (path,) = out.glob("auditor-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_has_py_typed_license_urls_and_schemas(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "auditor/py.typed" in names
    assert {f"auditor/schemas/{file_name(name)}" for name in SCHEMAS} <= names
    assert any(n.startswith("auditor/_data/policies/") for n in names)
    license_file = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    text = wheel.read(license_file).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert text == (REPO / "LICENSE").read_text()
    metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata and "License-File: LICENSE" in metadata
    urls = [line for line in metadata.splitlines() if line.startswith("Project-URL: ")]
    assert {u.split(": ", 1)[1].split(",")[0] for u in urls} >= {"Homepage", "Source", "Issues"}

