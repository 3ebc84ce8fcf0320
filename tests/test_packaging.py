"""The sdist and the wheel ship what a user needs: the license, the type marker, the sample,
the emulator's decoder worker; and promise only what is true."""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("hatchling", reason="the test extra installs hatchling")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_the_wheel_ships_the_license_and_what_the_package_needs(dist) -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License")
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = wheel.namelist()
        [licensed] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert wheel.read(licensed).decode() == license_text
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(wheel.read(metadata_name))
    for needed in (
        "speechrest/py.typed",
        "speechrest/samples/hello.wav",
        "speechrest/testing/_sphinx_worker.py",
        "speechrest/testing/static/index.html",
        "speechrest/testing/static/page.js",
        "speechrest/testing/static/page.css",
    ):
        assert needed in names
    assert metadata["License-Expression"] == "MIT"
    classifiers = metadata.get_all("Classifier")
    assert "Framework :: AsyncIO" in classifiers
    # aiohttp runs on asyncio only: no claim of support for other anyio backends (trio).
    assert not [c for c in classifiers if "AnyIO" in c or "Trio" in c]


def test_the_sdist_ships_the_license_and_no_local_clutter(dist) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    assert "LICENSE" in names
    assert "README.md" in names
    assert "mkdocs.yml" in names and "docs/getting-started.md" in names  # tests/ reads them
    assert not [n for n in names if "__pycache__" in n or n.startswith(".venv")]
