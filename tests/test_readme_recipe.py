"""The README's "pre-train on your own text in five minutes" recipe, run as
written (extracted from README.md) on a few paragraphs: build, pre-train,
export to Hugging Face."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.helpers.output_lines import error_lines

HEADING = "## Pre-train on your own text in five minutes"
PARAGRAPHS = [
    ("The river rose in the night and by morning the lower fields were under water.",
     "Farmers moved their animals to the hill behind the church, where the ground stayed dry."),
    ("The old bridge held, though the water reached the top of its arches.",
     "By the third day the rain stopped and the sun came out over the valley."),
    ("Children walked along the new shore and picked up what the flood had carried down.",
     "In the evening the village met in the hall to count what had been lost."),
]


def recipe_commands() -> str:
  """The first bash block after the recipe's heading in README.md."""
  readme = (ROOT / "README.md").read_text()
  assert HEADING in readme
  block = re.search(r"```bash\n(.*?)```", readme[readme.index(HEADING):], re.S)
  return block.group(1)


def test_the_recipe_block_is_the_whole_path():
  commands = recipe_commands()
  for step in ("build_pretraining_dataset.py", "run_pretraining.py", "convert_checkpoint.py",
               "configs/small_corpus.json", "source .venv/bin/activate"):
    assert step in commands


@pytest.mark.e2e
def test_readme_recipe_runs_as_written(tmp_path):
  """In a directory that looks like a set-up checkout (the repository's
  entries linked in, `.venv` the running interpreter's venv)."""
  for entry in ROOT.iterdir():
    if entry.name not in (".venv", ".git", "my_data", "my_text", "my_model_hf"):
      os.symlink(entry, tmp_path / entry.name)
  os.symlink(sys.prefix, tmp_path / ".venv")
  text_dir = tmp_path / "my_text"
  text_dir.mkdir()
  (text_dir / "notes.txt").write_text("".join(f"{a}\n{b}\n\n" for a, b in PARAGRAPHS))
  env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "MY_TEXT")}
  env["PYTHONPATH"] = str(ROOT)
  result = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe_commands()], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
  output = result.stdout + result.stderr
  assert result.returncode == 0, output
  assert error_lines(output) == [], output
  # The recipe builds unseeded (as the original), so the example count varies
  # with the drawn seed; each example fills one shard.
  filled = re.search(r"(\d+) examples fill (\d+) of the 1000 shards", result.stdout)
  assert filled and filled.group(1) == filled.group(2), result.stdout
  count = int(filled.group(1))
  assert sorted(os.listdir(tmp_path / "my_data" / "pretrain_tfrecords")) == [
      "build_info.json"] + [f"pretrain_data.tfrecord-{i}-of-{count}" for i in range(count)]
  assert re.search(r"step 20/20 \(100\.0%\) \| loss [\d.]+", result.stdout), result.stdout
  for sub, architecture in (("discriminator", "ElectraForPreTraining"),
                            ("generator", "ElectraForMaskedLM")):
    with open(tmp_path / "my_model_hf" / sub / "config.json") as f:
      assert json.load(f)["architectures"] == [architecture]
