"""The machine a benchmark ran on, printed with its figures (they move with the CPU)."""

import subprocess


def cpu_description() -> str:
  """The CPU model, its count and flags, from lscpu."""
  try:
    lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
  except (OSError, subprocess.CalledProcessError):
    return "lscpu unavailable"
  fields = dict(line.split(":", 1) for line in lines.splitlines() if ":" in line)
  return (f"{fields.get('Model name', '?').strip()} | CPU(s) {fields.get('CPU(s)', '?').strip()}"
          f"\nflags: {fields.get('Flags', '?').strip()}")
