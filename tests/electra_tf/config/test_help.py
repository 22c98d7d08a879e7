"""`--help` lists every hparam with its default and description, read from the
config definitions (`electra_tf.config.help`)."""

import dataclasses
import json
import re
from typing import Optional

from electra_cli import run_finetuning, run_pretraining
from electra_tf.config.help import hparam_docs
from electra_tf.config.hparams import HParams
from electra_tf.config.pretraining import PretrainingConfig
from finetune.config import FinetuningConfig

LISTED = re.compile(r"^  (\w+) = (.+?)(?:\s{2,}(.*))?$")


@dataclasses.dataclass
class Example(HParams):
  """A config written as the project's are."""
  # first group
  alpha: int = 1  #: the alpha
  #: the beta, described
  #: over two lines
  beta: Optional[str] = None
  # A longer explanation for readers,
  # not a group.
  gamma: float = 0.5
  # --- second group ---------------
  # Explained too.
  delta: bool = True


def listed(help_text):
  """{name: (default JSON, description)} from a --help text."""
  found = {}
  lines = help_text.splitlines()
  for i, line in enumerate(lines):
    match = LISTED.match(line)
    if match:
      description = match.group(3) or ""
      if not description and i + 1 < len(lines) and lines[i + 1].startswith(" " * 36):
        description = lines[i + 1].strip()
      found[match.group(1)] = (match.group(2).strip(), description)
  return found


def test_docs_come_from_comments_in_the_definition():
  groups = hparam_docs(Example)
  assert [(g, [tuple(d) for d in docs]) for g, docs in groups] == [
      ("first group", [("alpha", 1, "the alpha"),
                       ("beta", None, "the beta, described over two lines"),
                       ("gamma", 0.5, "")]),
      ("second group", [("delta", True, "")])]


def test_run_pretraining_help_lists_every_hparam_with_default_and_description():
  text = run_pretraining.build_arg_parser().format_help()
  found = listed(text)
  config = PretrainingConfig()
  for field in dataclasses.fields(PretrainingConfig):
    if field.name in ("model_name", "data_dir"):
      continue
    assert field.name in found, field.name
    default, description = found[field.name]
    assert json.loads(default) == getattr(config, field.name), field.name
    assert description, f"{field.name} has no description"
  assert found["learning_rate"] == ("0.0005", "peak learning rate (after warm-up)")
  groups = [g for g, _ in hparam_docs(PretrainingConfig)]
  # The sections of the original's configure_pretraining.py.
  for section in ("general", "loss functions", "optimization", "training", "model settings",
                  "generator settings", "batch sizes", "TPU settings"):
    assert section in groups
  assert any(g.startswith("default locations of the data files") for g in groups)
  assert "DATA_DIR/pretrain_tfrecords/pretrain_data.tfrecord-*-of-*" in text


def test_run_finetuning_help_lists_every_hparam_with_default_and_description():
  found = listed(run_finetuning.build_arg_parser().format_help())
  config = FinetuningConfig()
  for field in dataclasses.fields(FinetuningConfig):
    if field.name in ("model_name", "data_dir"):
      continue
    default, description = found[field.name]
    assert json.loads(default) == getattr(config, field.name), field.name
    assert description, f"{field.name} has no description"
  assert found["qa_na_threshold"] == (
      "-2.75", "QA: null-odds threshold of the submission file (SQuAD 2.0)")
  assert found["model_size"][1].startswith("small, base or large")
