"""The machine a benchmark ran on. Every benchmark prints `cpu_header()` with its
figures: they move with the CPU (its model, core count and vector / matrix units)."""

import os
import subprocess
from typing import Dict

# The flags that decide matmul and elementwise speed here: AVX2 / AVX-512 and their
# bf16 / VNNI extensions, AMX tiles, FMA.
HEADER_FLAG_PREFIXES = ("avx", "amx", "fma")


def lscpu_fields() -> Dict[str, str]:
  """lscpu's `name: value` lines ({} where lscpu is missing or fails)."""
  try:
    lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
  except (OSError, subprocess.CalledProcessError):
    return {}
  return {name.strip(): value.strip() for name, value in
          (line.split(":", 1) for line in lines.splitlines() if ":" in line)}


def cpu_header() -> str:
  """One line: `CPU: <lscpu model name>; <n> CPU(s); flags: <avx*, amx*, fma flags>`."""
  fields = lscpu_fields()
  if not fields:
    return f"CPU: unknown (lscpu unavailable); {os.cpu_count()} CPU(s)"
  flags = " ".join(sorted(flag for flag in fields.get("Flags", "").split()
                          if flag.startswith(HEADER_FLAG_PREFIXES)))
  return (f"CPU: {fields.get('Model name', '?')}; {fields.get('CPU(s)', os.cpu_count())} "
          f"CPU(s); flags: {flags or 'no avx/amx/fma'}")
