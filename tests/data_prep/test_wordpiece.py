"""build_vocab: a WordPiece vocab that the rest of the pipeline accepts."""

import shutil

import pytest

from data_prep import pretraining_dataset as bpd
from electra_cli import build_vocab
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.pretraining import pretrain_data
from electra_tf.text.tokenization import BasicTokenizer, FullTokenizer
from electra_tf.text.vocab import SpecialTokenIds, check_vocab_size, load_vocab
from tests.conftest import CORPUS_DIR
from tests.helpers import shards


@pytest.fixture
def macbeth(tmp_path):
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  shutil.copy(CORPUS_DIR / "macbeth_gut.txt", corpus_dir)
  return corpus_dir


@pytest.mark.e2e
def test_learned_vocab_works_end_to_end(tmp_path, macbeth, capsys):
  vocab_file = tmp_path / "vocab.txt"
  assert build_vocab.main(["--corpus-dir", str(macbeth), "--output-file", str(vocab_file),
                           "--vocab-size", "1200", "--no-lower-case"]) == 0
  tokens = vocab_file.read_text(encoding="utf-8").splitlines()
  assert len(tokens) == len(set(tokens)) == 1200
  assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  assert SpecialTokenIds.from_vocab_file(str(vocab_file)) == SpecialTokenIds(0, 1, 2, 3, 4)
  assert any(t.startswith("##") for t in tokens)
  assert "Macbeth" in tokens  # cased: learned from the cased text
  assert list(tmp_path.glob("vocab.txt.tmp*")) == []
  assert 'vocab_size": 1200' in capsys.readouterr().out

  # Every character of the corpus is in the vocab: nothing becomes [UNK].
  tokenizer = FullTokenizer(str(vocab_file), do_lower_case=False)
  text = (macbeth / "macbeth_gut.txt").read_text(encoding="utf-8").splitlines()
  ids = [i for line in tokenizer.encode_batch(text) for i in line]
  assert ids and tokenizer.vocab["[UNK]"] not in ids
  words = sum(len(BasicTokenizer(do_lower_case=False).tokenize(line)) for line in text)
  assert len(ids) < 1.6 * words  # pieces are real subwords, not characters

  output_dir = tmp_path / "out"
  stats = bpd.build(bpd.BuildOptions(str(vocab_file), str(output_dir), max_seq_length=64,
                                     num_out_files=2, seed=0, do_lower_case=False),
                    [str(p) for p in macbeth.iterdir()])
  assert stats.examples > 0
  config = PretrainingConfig.create(
      "test", str(tmp_path), vocab_size=1200, max_seq_length=64, vocab_file=str(vocab_file),
      pretrain_tfrecords=str(output_dir / "pretrain_data.tfrecord*"))
  check_vocab_size(config.vocab_file, config.vocab_size)
  pretrain_data.validate_pretraining_data(config)
  for example in shards.read_shards(output_dir):
    assert example["input_ids"][0] == 2 and max(example["input_ids"]) < 1200


def test_learned_vocab_is_padded_to_the_exact_size(tmp_path, macbeth):
  vocab_file = tmp_path / "vocab.txt"
  assert build_vocab.main(["--corpus-dir", str(macbeth), "--output-file", str(vocab_file),
                           "--vocab-size", "3000"]) == 0
  vocab = load_vocab(str(vocab_file))
  assert len(vocab) == 3000 and "[unused0]" in vocab


def test_bad_arguments(tmp_path, macbeth, capsys):
  vocab_file = tmp_path / "vocab.txt"
  args = ["--corpus-dir", str(macbeth), "--output-file", str(vocab_file)]
  assert build_vocab.main(args + ["--vocab-size", "40"]) == 2
  assert "too small" in capsys.readouterr().err
  assert not vocab_file.exists()
  vocab_file.write_text("mine\n")
  assert build_vocab.main(args + ["--vocab-size", "1200"]) == 2
  assert "--overwrite" in capsys.readouterr().err
  assert vocab_file.read_text() == "mine\n"
  assert build_vocab.main(["--corpus-dir", str(tmp_path / "none"),
                           "--output-file", str(tmp_path / "v2.txt")]) == 2
  assert "does not exist" in capsys.readouterr().err
