"""The layout is the architecture: one-way imports, no cycles, small modules.

Dependencies point one way (docs/architecture.md):

  entry scripts (electra_cli, the top-level *.py) -> finetune, data_prep -> electra_tf

and inside electra_tf each subpackage imports only itself and the layers
below it (`ELECTRA_TF_LAYERS`). Imports are read from the source with `ast`,
including those inside functions, so a lazy import cannot hide a cycle.
"""

import ast
import pathlib
from typing import Dict, List, Set

import pytest

from tests.conftest import ROOT

PACKAGES = ("electra_tf", "finetune", "data_prep", "electra_cli")
# Which top-level packages each may import (besides itself).
ALLOWED_PACKAGES = {
    "electra_tf": set(),
    "finetune": {"electra_tf"},
    "data_prep": {"electra_tf"},
    "electra_cli": {"electra_tf", "finetune", "data_prep"},
}
# electra_tf's layers, lowest first: a module may import its own subpackage
# and lower layers only. "" is the package's top-level modules (errors,
# fileio, cli), the base.
ELECTRA_TF_LAYERS = (
    ("",),
    ("config",),
    ("text",),
    ("modeling",),
    ("checkpoints", "training"),
    ("pretraining", "serving"),
)
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
LONG_FUNCTION_REASON = "longer than 80 lines because"


def project_files() -> List[pathlib.Path]:
  files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
  return sorted(files + list(ROOT.glob("*.py")))


def module_name(path: pathlib.Path) -> str:
  parts = list(path.relative_to(ROOT).with_suffix("").parts)
  if parts[-1] == "__init__":
    parts.pop()
  return ".".join(parts)


def project_modules() -> Set[str]:
  return {module_name(p) for p in project_files()}


def imported_modules(path: pathlib.Path, modules: Set[str]) -> Set[str]:
  """The project modules `path` imports (a `from package import name` counts
  as the module `package.name` when that is a module, else as `package`)."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
               else node.module for alias in node.names]
    else:
      continue
    for name in names:
      # The longest project module that `name` is or lies in.
      while name and name not in modules:
        name = name.rpartition(".")[0]
      if name:
        found.add(name)
  return found


def import_graph() -> Dict[str, Set[str]]:
  modules = project_modules()
  return {module_name(p): imported_modules(p, modules) - {module_name(p)}
          for p in project_files()}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
  """One import cycle as a list of modules, or [] (depth-first search)."""
  state: Dict[str, int] = {}  # 1: on the current path, 2: done
  path: List[str] = []

  def visit(module: str) -> List[str]:
    state[module] = 1
    path.append(module)
    for target in sorted(graph.get(module, ())):
      if state.get(target) == 1:
        return path[path.index(target):] + [target]
      if target not in state:
        cycle = visit(target)
        if cycle:
          return cycle
    state[module] = 2
    path.pop()
    return []

  for module in sorted(graph):
    if module not in state:
      cycle = visit(module)
      if cycle:
        return cycle
  return []


def electra_tf_subpackage(module: str) -> str:
  """"config" for electra_tf.config.model, "" for electra_tf.fileio."""
  parts = module.split(".")
  subpackages = {name for layer in ELECTRA_TF_LAYERS for name in layer}
  return parts[1] if len(parts) > 1 and parts[1] in subpackages else ""


def electra_tf_layer(module: str) -> int:
  subpackage = electra_tf_subpackage(module)
  return next(rank for rank, names in enumerate(ELECTRA_TF_LAYERS) if subpackage in names)


def test_the_cycle_finder_finds_cycles():
  assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
  assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_among_the_projects_modules():
  graph = import_graph()
  assert len(graph) > 50  # the walk found the project
  assert find_cycle(graph) == []


def test_packages_import_only_downwards():
  violations = []
  for module, targets in import_graph().items():
    package = module.split(".")[0]
    if package not in ALLOWED_PACKAGES:
      continue  # the top-level scripts may import anything
    for target in targets:
      other = target.split(".")[0]
      if other != package and other not in ALLOWED_PACKAGES[package]:
        violations.append(f"{module} imports {target}")
  assert violations == []


def test_electra_tf_subpackages_import_only_lower_layers():
  violations = []
  for module, targets in import_graph().items():
    if not module.startswith("electra_tf"):
      continue
    for target in targets:
      same_package = electra_tf_subpackage(target) == electra_tf_subpackage(module)
      if not same_package and electra_tf_layer(target) >= electra_tf_layer(module):
        violations.append(f"{module} imports {target}")
  assert violations == []


def test_the_layer_rule_ranks_modules():
  assert electra_tf_layer("electra_tf.checkpoints.original") == electra_tf_layer(
      "electra_tf.training.distribution")  # siblings: neither may import the other
  assert electra_tf_layer("electra_tf.fileio") < electra_tf_layer("electra_tf.config.hparams")
  assert electra_tf_layer("electra_tf") < electra_tf_layer("electra_tf.modeling.layers")


def all_python_files() -> List[pathlib.Path]:
  """The project's code, its tests and benchmarks."""
  return sorted(set(project_files()) | set((ROOT / "tests").rglob("*.py"))
                | set((ROOT / "bench").rglob("*.py")))


@pytest.mark.parametrize("path", all_python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path):
  source = path.read_text(encoding="utf-8")
  assert source.count("\n") <= MAX_FILE_LINES, f"{path} has over {MAX_FILE_LINES} lines"
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      length = node.end_lineno - node.lineno + 1
      reason = LONG_FUNCTION_REASON in (ast.get_docstring(node) or "")
      assert length <= MAX_FUNCTION_LINES or reason, (
          f"{path}:{node.lineno} {node.name} has {length} lines; split it or say in its "
          f"docstring why it is {LONG_FUNCTION_REASON} ...")
