"""The built wheel, installed into a fresh venv outside the repository: one import root.

The wheel must put only `numguard` (and its dist-info) into site-packages, carry
the linked folders and the package data, and run `numguard demo` from there.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD_SECONDS = 300
DEMO_SECONDS = 300
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
              ".hypothesis", "*.sqlite3*")  # fmt: skip


def run(*command: str | Path, cwd: Path, timeout: float = BUILD_SECONDS) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a clean copy: setuptools leaves build/ in the source tree, and a stale
    # build/lib from an earlier layout would slip old modules into the wheel.
    source = tmp_path_factory.mktemp("source") / "numguard"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, source, cwd=out)
    (built,) = out.glob("numguard-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv outside the repository."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(root, with_pip=True)
    return root


def site_packages(root: Path) -> Path:
    (found,) = root.glob("lib/python*/site-packages")
    return found


def test_the_wheel_holds_one_import_root_with_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"numguard", wheel_dist_info(wheel)}
    for wanted in ("numguard/py.typed", "numguard/producer/normalize.py",
                   "numguard/consumer/store/rules.py", "numguard/consumer/crm/notifier.py",
                   "numguard/schemas/codec.py", "numguard/devtools/localkafka/pom.xml",
                   "numguard/devtools/localregistry/pom.xml",
                   "numguard/cli/__init__.py"):  # fmt: skip
        assert wanted in names
    assert any(n.startswith("numguard/schemas/avro/") and n.endswith(".avsc") for n in names)


def wheel_dist_info(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name}-{version}.dist-info"


def test_installed_into_a_fresh_venv_it_adds_only_numguard_and_runs_the_demo(
    wheel: Path, fresh_venv: Path, tmp_path: Path
) -> None:
    packages = site_packages(fresh_venv)
    before = {p.name for p in packages.iterdir()}
    python = fresh_venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
        f"{wheel}[dev]", cwd=tmp_path)  # fmt: skip
    added = {p.name for p in packages.iterdir()} - before
    assert added == {"numguard", wheel_dist_info(wheel)}

    # The dependencies are borrowed from the test venv through a plain path line, which
    # loads none of that venv's own .pth files (so not the editable install's finder).
    (packages / "borrowed-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    where = run(python, "-c", "import numguard.producer.normalize as m; print(m.__file__)",
                cwd=tmp_path)  # fmt: skip
    assert Path(where.strip()).is_relative_to(packages)
    for bare in ("producer", "consumer", "schemas"):
        missing = subprocess.run([python, "-c", f"import {bare}"], cwd=tmp_path,
                                 capture_output=True, text=True, check=False)  # fmt: skip
        assert "ModuleNotFoundError" in missing.stderr, bare

    demo = run(fresh_venv / "bin" / "numguard", "demo", "--workdir", tmp_path / "demo",
               "--days", "1", "--numbers", "40", cwd=tmp_path, timeout=DEMO_SECONDS)  # fmt: skip
    assert "done: " in demo and "events published, 0 rows rejected" in demo
