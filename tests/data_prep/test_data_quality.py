"""build_pretraining_dataset.py reports data quality: the [UNK] rate (with a
warning above 5%), corpus subdirectories read, outputs kept out of the corpus."""

import json
import re
import shutil

from electra_cli import build_pretraining_dataset
from tests.conftest import CORPUS_DIR, VOCAB_FILE
from tests.helpers import shards
from tests.helpers.faults import snapshot


def build(corpus_dir, output_dir, vocab_file=VOCAB_FILE):
  return build_pretraining_dataset.main([
      "--corpus-dir", str(corpus_dir), "--vocab-file", str(vocab_file), "--output-dir",
      str(output_dir), "--num-out-files", "2", "--seed", "0", "--max-seq-length", "64"])


def unk_rate(output):
  return float(re.search(r"\[UNK\]: (\d+\.\d\d)% of the text tokens", output).group(1))


def test_a_truncated_vocab_warns_of_its_unk_rate(tmp_path, capsys):
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  shutil.copy(CORPUS_DIR / "macbeth_gut.txt", corpus_dir)
  assert build(corpus_dir, tmp_path / "full") == 0
  output = capsys.readouterr().out
  assert unk_rate(output) < 1.0 and "WARNING" not in output
  truncated = tmp_path / "vocab_1000.txt"  # the first 1,000 lines: specials, no words
  truncated.write_text("".join(VOCAB_FILE.read_text().splitlines(keepends=True)[:1000]))
  assert build(corpus_dir, tmp_path / "truncated", vocab_file=truncated) == 0
  output = capsys.readouterr().out
  rate = unk_rate(output)
  assert rate > 90.0
  assert (f"WARNING: {rate:.1f}% of the text tokens are [UNK] (above 5%): the vocab "
          f"{truncated} does not fit this corpus.") in output
  info = json.loads((tmp_path / "truncated" / "build_info.json").read_text())
  assert info["stats"]["unk_tokens"] / info["stats"]["text_tokens"] > 0.9


def test_wikiextractor_subdirectories_are_read(tmp_path, capsys):
  corpus_dir = tmp_path / "wiki"
  for subdir, play in (("AA", "hamlet_gut.txt"), ("AB", "macbeth_gut.txt")):
    (corpus_dir / subdir).mkdir(parents=True)
    shutil.copy(CORPUS_DIR / play, corpus_dir / subdir / "wiki_00")
  assert build(corpus_dir, tmp_path / "out") == 0
  output = capsys.readouterr().out
  assert f"reading 2 files in {corpus_dir} and its 2 subdirectories" in output
  assert re.search(r"from 2 files \(0 without text; 0 input\(s\) skipped\)", output), output
  assert shards.read_shards(tmp_path / "out")


def test_an_output_inside_the_corpus_is_refused(tmp_path, capsys):
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  shutil.copy(CORPUS_DIR / "macbeth_gut.txt", corpus_dir)
  before = snapshot(corpus_dir)
  for output_dir in (corpus_dir / "tfrecords", corpus_dir, tmp_path):
    assert build(corpus_dir, output_dir) == 2
    err = capsys.readouterr().err
    assert re.match(rf"error: output dir '{re.escape(str(output_dir))}' (is inside|is|contains) "
                    rf"the input dir '{re.escape(str(corpus_dir))}'", err), err
    assert snapshot(corpus_dir) == before
