"""Every benchmark prints the CPU it ran on (model, core count, vector / matrix
flags) with its figures, from the one helper `bench/machine.py` `cpu_header`."""

import ast
import os
import shutil

import pytest

from bench import machine
from tests.conftest import ROOT

# The scripts (not the helper modules); torch_peers.py runs in the TF-free peers'
# venv and prints JSON rows that pretrain_throughput.py and
# finetune_serving_throughput.py put under their header.
BENCHMARKS = sorted(p.name for p in (ROOT / "bench").glob("*.py")
                    if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8")
                    and p.name != "torch_peers.py")


def proc_cpuinfo_flags():
  with open("/proc/cpuinfo", encoding="utf-8") as f:
    line = next(line for line in f if line.startswith("flags"))
  return set(line.split(":", 1)[1].split())


@pytest.mark.skipif(shutil.which("lscpu") is None or not os.path.exists("/proc/cpuinfo"),
                    reason="needs lscpu and /proc/cpuinfo")
def test_the_header_names_the_model_and_the_vector_flags_the_kernel_reports():
  header = machine.cpu_header()
  assert header.startswith(f"CPU: {machine.lscpu_fields()['Model name']}; ")
  assert f"; {os.cpu_count()} CPU(s); " in header
  listed = header.split("flags: ", 1)[1].split()
  expected = sorted(f for f in proc_cpuinfo_flags() if f.startswith(("avx", "amx", "fma")))
  assert listed == (expected or ["no", "avx/amx/fma"])


@pytest.mark.parametrize("script", BENCHMARKS)
def test_every_benchmark_prints_the_cpu_header(script):
  tree = ast.parse((ROOT / "bench" / script).read_text(encoding="utf-8"))
  printed = [node for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
             and any(isinstance(inner, ast.Call) and "cpu_header" in ast.unparse(inner.func)
                     for arg in node.args for inner in ast.walk(arg))]
  assert printed, f"bench/{script} prints figures without machine.cpu_header()"
