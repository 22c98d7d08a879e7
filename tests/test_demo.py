"""demo.py's command line (the demo itself runs in scripts/demo.sh)."""

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_demo_help_shows_every_flag_with_its_default():
  result = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--help"], check=True,
                          capture_output=True, text=True)
  help_text = " ".join(result.stdout.split())
  shown = dict(re.findall(r"(--[a-z-]+) [A-Z_]+ .*?\(default: ([^)]*)\)", help_text))
  assert shown == {"--demo-dir": str(ROOT / "demo_output"), "--num-train-steps": "300",
                   "--num-finetune-epochs": "10.0"}, help_text
