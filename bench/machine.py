"""The machine a benchmark ran on, printed with its figures (they move with the CPU)."""

import subprocess
from typing import Dict


def lscpu_fields() -> Dict[str, str]:
  """lscpu's `name: value` lines ({} where lscpu is missing or fails)."""
  try:
    lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
  except (OSError, subprocess.CalledProcessError):
    return {}
  return {name.strip(): value.strip() for name, value in
          (line.split(":", 1) for line in lines.splitlines() if ":" in line)}


def cpu_description() -> str:
  """The CPU model, its count and all its flags."""
  fields = lscpu_fields()
  if not fields:
    return "lscpu unavailable"
  return (f"{fields.get('Model name', '?')} | CPU(s) {fields.get('CPU(s)', '?')}"
          f"\nflags: {fields.get('Flags', '?')}")


def cpu_flags(*prefixes: str) -> str:
  """The CPU's flags that start with one of `prefixes`, space-separated, sorted."""
  return " ".join(sorted(flag for flag in lscpu_fields().get("Flags", "").split()
                         if flag.startswith(prefixes)))
