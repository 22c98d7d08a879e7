"""A briefly pre-trained tiny model, shared by the end-to-end tests."""

import json
import shutil

import pytest

from tests.conftest import CORPUS_DIR, VOCAB_FILE

PRETRAINED_MODEL = "pretrained"


def pretrain(data_dir, num_steps: int) -> None:
  """data/corpus -> TFRecords -> run_pretraining.py for `num_steps` (the demo's path)."""
  from electra_cli import build_pretraining_dataset  # pylint: disable=import-outside-toplevel
  from electra_cli import run_pretraining
  shutil.copyfile(VOCAB_FILE, data_dir / "vocab.txt")
  assert build_pretraining_dataset.main([
      "--corpus-dir", str(CORPUS_DIR), "--vocab-file", str(VOCAB_FILE),
      "--output-dir", str(data_dir / "pretrain_tfrecords"), "--max-seq-length", "64",
      "--num-out-files", "2", "--seed", "0"]) == 0
  hparams = {"model_size": "tiny", "max_seq_length": 64, "train_batch_size": 16,
             "num_train_steps": num_steps, "num_warmup_steps": 5, "learning_rate": 1e-3,
             "iterations_per_loop": num_steps, "seed": 0}
  assert run_pretraining.main(["--data-dir", str(data_dir), "--model-name", PRETRAINED_MODEL,
                               "--hparams", json.dumps(hparams)]) == 0


@pytest.fixture(scope="session")
def pretrained_data_dir(tmp_path_factory):
  """A data dir whose models/pretrained/ holds a 15-step pre-training run."""
  data_dir = tmp_path_factory.mktemp("data")
  pretrain(data_dir, num_steps=15)
  return data_dir
