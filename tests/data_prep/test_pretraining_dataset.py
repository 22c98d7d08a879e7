"""End-to-end and bad-input tests of build_pretraining_dataset."""

import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from data_prep import pretraining_dataset as bpd
from data_prep.corpus import DataPrepError
from electra_cli import build_pretraining_dataset
from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.pretraining import pretrain_data
from electra_tf.text.tokenization import FullTokenizer
from tests.conftest import CORPUS_DIR, ROOT, VOCAB_FILE
from tests.helpers import shards


def options(output_dir, **kwargs):
  defaults = dict(vocab_file=str(VOCAB_FILE), output_dir=str(output_dir),
                  num_out_files=4, seed=0)
  defaults.update(kwargs)
  return bpd.BuildOptions(**defaults)


def files_in(directory):
  return sorted(str(p) for p in pathlib.Path(directory).iterdir())


@pytest.fixture
def plays(tmp_path):
  """Three Shakespeare plays."""
  corpus_dir = tmp_path / "plays"
  corpus_dir.mkdir()
  for name in ("hamlet_gut.txt", "macbeth_gut.txt", "tempest_gut.txt"):
    shutil.copy(CORPUS_DIR / name, corpus_dir / name)
  return corpus_dir


def test_shakespeare_round_trip_through_the_input_pipeline(tmp_path, plays, capsys):
  output_dir = tmp_path / "out"
  stats = bpd.build(options(output_dir, max_seq_length=64, progress_interval=0),
                    files_in(plays), protected_dirs=[str(plays)])
  assert shards.final_shards(output_dir) == [
      f"pretrain_data.tfrecord-{i}-of-4" for i in range(4)]
  assert shards.temp_shards(output_dir) == []
  examples = shards.read_shards(output_dir)
  assert len(examples) == stats.examples > 1000
  for example in examples:
    shards.check_example(example["input_ids"], example["input_mask"],
                          example["segment_ids"], 64)
  assert sum(int(e["input_mask"].sum()) for e in examples) == stats.example_tokens
  assert stats.documents > 1000 and stats.files == 3 and not stats.skipped_files

  config = PretrainingConfig.create(
      "test", str(tmp_path), max_seq_length=64, train_batch_size=16,
      pretrain_tfrecords=str(output_dir / "pretrain_data.tfrecord*"))
  pretrain_data.validate_pretraining_data(config)
  dataset = pretrain_data.make_dataset(config)
  for batch in dataset.take(20):
    assert set(batch) == {"input_ids", "input_mask", "segment_ids"}
    for row in range(16):
      shards.check_example(*(batch[k][row].numpy() for k in
                              ("input_ids", "input_mask", "segment_ids")), 64)

  output = capsys.readouterr().out
  assert "documents" in output and "examples" in output and "tokens/s" in output
  assert "ETA" in output and "padding" in output


@pytest.mark.parametrize("blanks_separate_docs", [True, False])
def test_no_example_spans_two_documents(tmp_path, blanks_separate_docs):
  corpus_dir = tmp_path / "corpus"
  owner = shards.write_disjoint_documents(corpus_dir, num_files=3, docs_per_file=5)
  if not blanks_separate_docs:  # then a document is a whole file
    owner = {token: doc // 5 for token, doc in owner.items()}
  output_dir = tmp_path / "out"
  stats = bpd.build(options(output_dir, max_seq_length=32,
                            blanks_separate_docs=blanks_separate_docs),
                    files_in(corpus_dir))
  examples = shards.read_shards(output_dir)
  assert len(examples) == stats.examples
  documents_seen = set()
  for example in examples:
    shards.check_example(example["input_ids"], example["input_mask"],
                          example["segment_ids"], 32)
    tokens = [t for t in example["input_ids"] if t not in (0, shards.CLS, shards.SEP)]
    documents = {owner[t] for t in tokens}
    assert len(documents) == 1, f"example spans documents {documents}"
    documents_seen |= documents
  assert documents_seen == set(owner.values())
  assert stats.documents == (15 if blanks_separate_docs else 3)


def test_same_seed_same_shards_different_seed_different(tmp_path, plays):
  def shard_bytes(seed, name):
    out = tmp_path / name
    bpd.build(options(out, seed=seed, max_seq_length=64), files_in(plays))
    return [(out / n).read_bytes() for n in shards.final_shards(out)]

  first = shard_bytes(7, "a")
  assert first == shard_bytes(7, "b")
  assert first != shard_bytes(8, "c")


@pytest.mark.e2e
def test_two_processes_split_files_and_own_their_shards(tmp_path):
  # Files 0 and 2 (job 0) use only the words of document 0, files 1 and 3
  # (job 1) only those of document 1: shards 0 and 2 must hold only the
  # first, shards 1 and 3 only the second.
  words = sorted(shards.single_token_words().items())
  sets = [dict(words[:50]), dict(words[50:100])]
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  rng = random.Random(0)
  for index in range(4):
    lines = [" ".join(rng.choice(list(sets[index % 2])) for _ in range(20))
             for _ in range(300)]
    (corpus_dir / f"f{index}.txt").write_text("\n".join(lines), encoding="utf-8")
  output_dir = tmp_path / "out"
  stats = bpd.build(options(output_dir, num_processes=2, max_seq_length=64),
                    files_in(corpus_dir))
  for shard in range(4):
    path = output_dir / f"pretrain_data.tfrecord-{shard}-of-4"
    shard_dir = tmp_path / f"shard{shard}"
    shard_dir.mkdir()
    shutil.copy(path, shard_dir / path.name)
    tokens = {int(t) for e in shards.read_shards(shard_dir) for t in e["input_ids"]}
    tokens -= {0, shards.CLS, shards.SEP}
    assert tokens and tokens <= set(sets[shard % 2].values())
  assert stats.files == 4 and stats.examples == len(shards.read_shards(output_dir))


@pytest.mark.e2e
def test_command_line_entry_point(tmp_path, plays):
  """The top-level script, in a subprocess, as a user runs it."""
  output_dir = tmp_path / "out"
  result = subprocess.run(
      [sys.executable, str(ROOT / "build_pretraining_dataset.py"),
       "--corpus-dir", str(plays), "--vocab-file", str(VOCAB_FILE),
       "--output-dir", str(output_dir), "--max-seq-length", "32",
       "--num-out-files", "3", "--blanks-separate-docs", "False", "--seed", "1"],
      capture_output=True, text=True, timeout=300, cwd=str(tmp_path), check=False)
  assert result.returncode == 0, result.stderr
  assert shards.final_shards(output_dir) == [
      f"pretrain_data.tfrecord-{i}-of-3" for i in range(3)]
  assert "Done:" in result.stdout and "seed 1" in result.stdout
  # "False" means False (the original's type=bool made it True): a document
  # per file, so 3 documents.
  assert " 3 documents" in result.stdout


@pytest.mark.parametrize("text,value", [("False", False), ("false", False), ("0", False),
                                        ("no", False), ("True", True), ("1", True)])
def test_blanks_separate_docs_is_parsed_as_a_bool(text, value):
  args = build_pretraining_dataset.build_arg_parser().parse_args(
      ["--corpus-dir", "c", "--vocab-file", "v", "--output-dir", "o",
       "--blanks-separate-docs", text])
  assert args.blanks_separate_docs is value


def test_blanks_separate_docs_rejects_other_values(capsys):
  with pytest.raises(SystemExit):
    build_pretraining_dataset.build_arg_parser().parse_args(
        ["--corpus-dir", "c", "--vocab-file", "v", "--output-dir", "o",
         "--blanks-separate-docs", "maybe"])
  assert "expected true or false" in capsys.readouterr().err


def run_main(tmp_path, corpus_dir, vocab_file=VOCAB_FILE, output_dir=None):
  output_dir = output_dir or tmp_path / "out"
  return build_pretraining_dataset.main(["--corpus-dir", str(corpus_dir), "--vocab-file", str(vocab_file),
                   "--output-dir", str(output_dir), "--num-out-files", "2", "--seed", "0"])


@pytest.mark.parametrize("case,message", [
    ("missing", "does not exist"),
    ("empty", "contains no files"),
    ("only_subdir", "contains no files"),
    ("is_file", "is a file"),
])
def test_bad_corpus_dir(tmp_path, capsys, case, message):
  corpus_dir = tmp_path / "corpus"
  if case == "empty":
    corpus_dir.mkdir()
  elif case == "only_subdir":
    (corpus_dir / "sub").mkdir(parents=True)
  elif case == "is_file":
    corpus_dir.write_text("text\n")
  assert run_main(tmp_path, corpus_dir) == 2
  assert message in capsys.readouterr().err
  assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("vocab_text,message", [
    (None, "does not exist"),
    ("", "is empty"),
    ("[PAD]\n[UNK]\nthe\ncat\n", "lacks the special tokens ['[CLS]', '[SEP]', '[MASK]']"),
])
def test_bad_vocab(tmp_path, plays, capsys, vocab_text, message):
  vocab_file = tmp_path / "vocab.txt"
  if vocab_text is not None:
    vocab_file.write_text(vocab_text)
  assert run_main(tmp_path, plays, vocab_file=vocab_file) == 2
  assert message in capsys.readouterr().err
  assert not (tmp_path / "out").exists()


def test_invalid_utf8_is_replaced_counted_and_dropped(tmp_path, capsys):
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  (corpus_dir / "latin1.txt").write_bytes("a caf\u00e9 was na\u00efve\n".encode("latin-1"))
  stats = bpd.build(options(tmp_path / "out"), files_in(corpus_dir))
  assert stats.invalid_utf8_sequences == 2 and stats.files_with_invalid_utf8 == 1
  assert "iconv" in capsys.readouterr().out
  (example,) = shards.read_shards(tmp_path / "out")
  tokenizer = FullTokenizer(str(VOCAB_FILE))
  # As the original tokenizer treats undecodable bytes: dropped.
  expected = [shards.CLS] + tokenizer.encode("a caf was nave") + [shards.SEP]
  assert list(example["input_ids"][:len(expected)]) == expected
  assert example["input_mask"].sum() == len(expected)


def test_binary_and_text_less_files_are_skipped_and_counted(tmp_path, plays, capsys):
  shutil.copy(CORPUS_DIR / "othello_gut.txt", plays / "othello_gut.txt")
  (plays / "archive.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 10)
  (plays / "blank_lines.txt").write_text("\n\n   \n\t\n\n")
  (plays / "zero_bytes.txt").write_text("")
  stats = bpd.build(options(tmp_path / "out"), files_in(plays))
  assert [os.path.basename(p) for p, _ in stats.skipped_files] == ["archive.gz"]
  assert stats.files_without_tokens == 2
  assert stats.files == 7 and stats.examples > 0
  output = capsys.readouterr().out
  assert "skipping" in output and "archive.gz" in output and "has no text" in output


def test_one_megabyte_line(tmp_path):
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  line = " ".join(["word", "the", "cat", "naïve"] * 51_000)  # 1 MB, one line
  assert len(line.encode()) > 1_000_000
  (corpus_dir / "long.txt").write_text(line + "\n\nshort second document\n")
  stats = bpd.build(options(tmp_path / "out", max_seq_length=128), files_in(corpus_dir))
  assert stats.examples == 2
  assert stats.truncated_tokens == stats.text_tokens - 126 - 3
  for example in shards.read_shards(tmp_path / "out"):
    shards.check_example(example["input_ids"], example["input_mask"],
                          example["segment_ids"], 128)


def test_corpus_without_text_fails_and_leaves_no_shards(tmp_path):
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  (corpus_dir / "a.txt").write_text("\n\n\n")
  (corpus_dir / "b.txt").write_bytes(b"\x00\x01\x02binary")
  with pytest.raises(DataPrepError, match="no examples were written"):
    bpd.build(options(tmp_path / "out"), files_in(corpus_dir))
  assert shards.list_output(tmp_path / "out") == []


def test_output_dir_equal_to_or_containing_the_corpus_is_refused(tmp_path, plays, capsys):
  assert run_main(tmp_path, plays, output_dir=plays) == 2
  assert "would delete your data" in capsys.readouterr().err
  assert run_main(tmp_path, plays, output_dir=tmp_path) == 2
  assert "would delete your data" in capsys.readouterr().err
  assert len(files_in(plays)) == 3


def test_output_dir_with_foreign_files_is_refused(tmp_path, plays, capsys):
  output_dir = tmp_path / "out"
  output_dir.mkdir()
  (output_dir / "notes.txt").write_text("keep me")
  (output_dir / "pretrain_data.tfrecord-0-of-1000").write_bytes(b"")
  assert run_main(tmp_path, plays, output_dir=output_dir) == 2
  assert "notes.txt" in capsys.readouterr().err
  assert (output_dir / "notes.txt").read_text() == "keep me"


def test_previous_shards_are_replaced(tmp_path, plays):
  output_dir = tmp_path / "out"
  output_dir.mkdir()
  for name in ("pretrain_data.tfrecord-7-of-1000", ".incomplete-shard-3-of-8",
               "build_info.json"):
    (output_dir / name).write_bytes(b"old")
  assert run_main(tmp_path, plays, output_dir=output_dir) == 0
  assert shards.list_output(output_dir) == [
      "build_info.json", "pretrain_data.tfrecord-0-of-2", "pretrain_data.tfrecord-1-of-2"]


def failing_job(job_id, options, paths):
  """The last job writes some examples, then crashes without cleaning up."""
  if job_id == options.num_processes - 1:
    writer = bpd.ExampleWriter(job_id, options, random.Random(0))
    writer.write_file(paths[0])
    raise RuntimeError("simulated crash")
  return bpd.write_files_job(job_id, options, paths)


@pytest.mark.e2e
@pytest.mark.parametrize("num_processes", [1, 2])
def test_failed_job_commits_no_shard(tmp_path, plays, num_processes):
  output_dir = tmp_path / "out"
  with pytest.raises((DataPrepError, RuntimeError), match="simulated crash"):
    bpd.build(options(output_dir, num_processes=num_processes), files_in(plays),
              job_fn=failing_job)
  assert shards.list_output(output_dir) == []


@pytest.mark.e2e
def test_killed_build_leaves_only_temporary_shards(tmp_path):
  """SIGKILL mid-write: nothing under a final shard name, and a rerun works."""
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  for copy in range(4):
    for path in sorted(CORPUS_DIR.iterdir()):
      shutil.copy(path, corpus_dir / f"{path.name}.{copy}")  # ~32 MB to write
  output_dir = tmp_path / "out"
  command = [sys.executable, str(ROOT / "build_pretraining_dataset.py"),
             "--corpus-dir", str(corpus_dir), "--vocab-file", str(VOCAB_FILE),
             "--output-dir", str(output_dir), "--num-out-files", "8", "--seed", "0"]
  process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 120
    while not (output_dir.exists() and shards.temp_shards(output_dir)):
      assert process.poll() is None and time.time() < deadline, "build did not start"
      time.sleep(0.05)
    time.sleep(0.3)  # inside the ~8 s of writing
    assert process.poll() is None, "build finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
  finally:
    if process.poll() is None:
      process.kill()
  assert shards.final_shards(output_dir) == []
  assert len(shards.temp_shards(output_dir)) == 8
  config = PretrainingConfig.create(
      "test", str(tmp_path), pretrain_tfrecords=str(output_dir / "pretrain_data.tfrecord*"))
  with pytest.raises(pretrain_data.PretrainingDataError, match="build_pretraining_dataset"):
    pretrain_data.validate_pretraining_data(config)
  shutil.rmtree(corpus_dir)
  corpus_dir.mkdir()
  shutil.copy(CORPUS_DIR / "macbeth_gut.txt", corpus_dir)
  assert run_main(tmp_path, corpus_dir, output_dir=output_dir) == 0
  assert shards.temp_shards(output_dir) == []
  assert shards.read_shards(output_dir)


@pytest.mark.parametrize("num_processes", [1, pytest.param(2, marks=pytest.mark.e2e)])
def test_a_small_corpus_writes_only_the_shards_it_fills(tmp_path, capsys, num_processes):
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  for i in range(4):  # four short documents: one example each
    (corpus_dir / f"doc{i}.txt").write_text(f"the king said {i} words.\nand then he left.\n")
  output_dir = tmp_path / "out"
  stats = bpd.build(options(output_dir, max_seq_length=64, num_out_files=1000,
                            num_processes=num_processes), files_in(corpus_dir))
  assert stats.examples == 4 and stats.shards == 4
  assert shards.final_shards(output_dir) == [
      f"pretrain_data.tfrecord-{i}-of-4" for i in range(4)]
  assert shards.temp_shards(output_dir) == []
  for name in shards.final_shards(output_dir):
    assert sum(1 for _ in tf.data.TFRecordDataset(str(output_dir / name))) == 1, name
  said = [line for line in capsys.readouterr().out.splitlines() if "examples fill" in line]
  assert len(said) == 1
  assert said[0].endswith("4 examples fill 4 of the 1000 shards: writing 4 "
                          "(pretrain_data.tfrecord-*-of-4)")
def _alive(pid: int) -> bool:
  """Running (a zombie, dead but not yet reaped, is not)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except FileNotFoundError:
    return False


@pytest.mark.e2e
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_killed_build_leaves_no_worker_processes(tmp_path):
  """SIGKILL of the builder while its 2 worker processes write: both exit."""
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()
  for copy in range(4):
    for path in sorted(CORPUS_DIR.iterdir()):
      shutil.copy(path, corpus_dir / f"{path.name}.{copy}")
  output_dir = tmp_path / "out"
  process = subprocess.Popen(
      [sys.executable, str(ROOT / "build_pretraining_dataset.py"), "--corpus-dir",
       str(corpus_dir), "--vocab-file", str(VOCAB_FILE), "--output-dir", str(output_dir),
       "--num-out-files", "8", "--num-processes", "2", "--seed", "0"],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 120
    while len(shards.temp_shards(output_dir) if output_dir.exists() else []) < 8:
      assert process.poll() is None and time.time() < deadline, "build did not start"
      time.sleep(0.05)
    workers = [int(pid) for pid in subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(process.pid)], capture_output=True, text=True,
        check=True).stdout.split()]
    workers = [pid for pid in workers if _alive(pid)]
    assert len(workers) >= 2, workers  # the two jobs (and multiprocessing's helpers)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
  finally:
    if process.poll() is None:
      process.kill()
  deadline = time.time() + 15
  while any(_alive(pid) for pid in workers) and time.time() < deadline:
    time.sleep(0.2)
  assert not [pid for pid in workers if _alive(pid)], "orphaned workers still running"
  assert shards.final_shards(output_dir) == []
