"""demo.py's command line (the demo itself runs in scripts/demo.sh)."""

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_demo_help_shows_every_flag_with_its_default():
  result = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--help"], check=True,
                          capture_output=True, text=True)
  help_text = " ".join(result.stdout.split())
  shown = dict(re.findall(r"(--[a-z-]+) [A-Z_]+ .*?\(default: ([^)]*)\)", help_text))
  assert shown == {"--demo-dir": str(ROOT / "demo_output"), "--num-train-steps": "300",
                   "--num-finetune-epochs": "10.0"}, help_text


@pytest.mark.parametrize("argv, message", [
    (["--num-train-steps", "0"],
     "argument --num-train-steps: expected a positive integer, got '0'"),
    (["--num-finetune-epochs", "0"], "--num-finetune-epochs must be positive, got 0.0"),
    (["--demo-dir", "{file}"], "--demo-dir {file} is a file; choose a directory (a new one, or a "
                               "previous demo's to resume it)"),
])
def test_bad_flags_stop_the_demo_in_one_line_before_it_starts(tmp_path, argv, message):
  file = tmp_path / "notes.txt"
  file.write_text("a user's file")
  argv = [arg.format(file=file) for arg in argv]
  # A later --demo-dir wins, so each case runs against tmp_path/out unless it names one.
  result = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--demo-dir",
                           str(tmp_path / "out"), *argv], capture_output=True, text=True,
                          timeout=120)
  assert result.returncode == 2
  assert result.stderr.splitlines()[-1] == f"demo.py: error: {message.format(file=file)}"
  assert result.stdout == "" and file.read_text() == "a user's file"
  assert not (tmp_path / "out").exists()
