"""`pip install .` gives a working package: declared dependencies, console scripts.

The fresh-venv install reuses this environment's third-party packages
through a `.pth` file (reinstalling TensorFlow would take minutes), so it
checks what the project's own packaging decides: which packages ship, the
entry points, and that they run from another directory. That the dependency
list is complete is checked against the imports in the code.
"""

import ast
import pathlib
import re
import subprocess
import sys
import sysconfig
import venv
from email.parser import Parser

import pytest

from tests.conftest import ROOT
from tests.test_architecture import PACKAGES, project_files

SCRIPTS = ("electra-pretrain", "electra-finetune", "electra-build-pretraining-dataset",
           "electra-build-openwebtext-dataset", "electra-build-vocab",
           "electra-convert-checkpoint", "electra-export-saved-model")
# Imported module -> the distribution that provides it.
DISTRIBUTIONS = {"tensorflow": "tensorflow", "tf_keras": "tf-keras",
                 "tensorflow_text": "tensorflow-text", "official": "tf-models-official",
                 "numpy": "numpy", "scipy": "scipy", "safetensors": "safetensors"}


def requirement_names(path: pathlib.Path):
  names = []
  for line in path.read_text().splitlines():
    line = line.split("#")[0].strip()
    if line:
      names.append(re.split(r"[<>=!~ ]", line)[0].lower())
  return names


def third_party_imports():
  """Top-level modules the packages import that are neither stdlib nor ours."""
  stdlib = set(sys.stdlib_module_names)
  found = set()
  for path in project_files():
    if path.parent == ROOT:
      continue  # the top-level scripts are not installed
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
      if isinstance(node, ast.Import):
        found.update(alias.name.split(".")[0] for alias in node.names)
      elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        found.add(node.module.split(".")[0])
  return found - stdlib - set(PACKAGES)


def test_every_imported_distribution_is_a_pinned_requirement():
  requirements = requirement_names(ROOT / "requirements.txt")
  missing = sorted(DISTRIBUTIONS.get(module, module) for module in third_party_imports()
                   if DISTRIBUTIONS.get(module, module) not in requirements)
  assert missing == []
  pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
  assert all("==" in pin or pin.startswith("setuptools<") for pin in pins), pins


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
  out = tmp_path_factory.mktemp("wheel")
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(out), str(ROOT)], check=True, capture_output=True)
  return next(out.glob("electra_tf-*.whl"))


@pytest.mark.e2e
def test_the_wheel_declares_requirements_and_scripts(wheel):
  import zipfile  # pylint: disable=import-outside-toplevel
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    info = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = Parser().parsestr(archive.read(info).decode())
    entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
  declared = [re.split(r"[<>=!~ ;]", r)[0].lower() for r in metadata.get_all("Requires-Dist")
              if "extra ==" not in r]
  assert declared == requirement_names(ROOT / "requirements.txt")
  assert all(re.search(rf"^{script} = electra_cli\.", entry_points, re.M) for script in SCRIPTS)
  for package in PACKAGES:
    assert f"{package}/__init__.py" in names
  assert not any(n.startswith("tests/") for n in names)


@pytest.mark.e2e
def test_installed_package_runs_from_another_directory(wheel, tmp_path):
  env_dir = tmp_path / "venv"
  venv.create(env_dir, with_pip=True)
  python = env_dir / "bin" / "python"
  subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                  str(wheel)], check=True, capture_output=True)
  # Third-party packages come from this environment (see the module docstring).
  site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                         "['purelib'])"], check=True, capture_output=True, text=True)
  pathlib.Path(site.stdout.strip(), "outer_env.pth").write_text(
      sysconfig.get_paths()["purelib"] + "\n")
  outside = tmp_path / "elsewhere"
  outside.mkdir()
  imported = subprocess.run(
      [str(python), "-c", "import electra_tf, finetune, data_prep, electra_cli; "
       "print(electra_tf.__file__)"], cwd=outside, check=True, capture_output=True, text=True)
  assert str(env_dir) in imported.stdout  # the installed copy, not the checkout
  for script in SCRIPTS:
    result = subprocess.run([str(env_dir / "bin" / script), "--help"], cwd=outside,
                            capture_output=True, text=True)
    assert result.returncode == 0, (script, result.stderr[-2000:])
    assert "usage:" in result.stdout and "(default:" in result.stdout, script
