"""build_openwebtext_pretraining_dataset on a small fake OpenWebText layout."""

import shutil

from electra_cli import build_openwebtext_pretraining_dataset as owt
from tests.conftest import VOCAB_FILE
from tests.helpers import shards
from tests.helpers.archives import write_archive


def test_archives_to_shards_one_document_per_file(tmp_path, capsys):
  data_dir = tmp_path / "data"
  (data_dir / "openwebtext").mkdir(parents=True)
  shutil.copy(VOCAB_FILE, data_dir / "vocab.txt")
  words = sorted(shards.single_token_words().items())
  owner = {}
  for archive in range(3):
    documents = {}
    for doc in range(4):
      index = archive * 4 + doc
      doc_words = words[index * 30:(index + 1) * 30]
      owner.update({i: index for _, i in doc_words})
      lines = [" ".join(w for w, _ in doc_words[k:k + 10]) for k in range(0, 30, 5)]
      # Blank lines inside a web page do not separate documents here.
      documents[f"{index:04d}.txt"] = ("\n\n".join(lines) + "\n") * 3
    write_archive(data_dir / "openwebtext" / f"urlsf_subset00-{archive}_data.xz", documents)
  (data_dir / "openwebtext" / "broken.xz").write_bytes(b"not an archive")

  assert owt.main(["--data-dir", str(data_dir), "--max-seq-length", "32",
                   "--num-out-files", "3", "--seed", "0"]) == 0
  output_dir = data_dir / "pretrain_tfrecords"
  assert shards.final_shards(output_dir) == [
      f"pretrain_data.tfrecord-{i}-of-3" for i in range(3)]
  examples = shards.read_shards(output_dir)
  documents_seen = set()
  for example in examples:
    shards.check_example(example["input_ids"], example["input_mask"],
                          example["segment_ids"], 32)
    tokens = [t for t in example["input_ids"] if t not in (0, shards.CLS, shards.SEP)]
    documents = {owner[t] for t in tokens}
    assert len(documents) == 1
    documents_seen |= documents
  assert documents_seen == set(range(12))
  assert not (data_dir / "tmp").exists()  # extraction dirs are cleaned up
  output = capsys.readouterr().out
  assert "broken.xz" in output and "12 documents" in output


def test_missing_archives(tmp_path, capsys):
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  shutil.copy(VOCAB_FILE, data_dir / "vocab.txt")
  assert owt.main(["--data-dir", str(data_dir)]) == 2
  assert "openwebtext.tar.xz" in capsys.readouterr().err
  (data_dir / "openwebtext").mkdir()
  assert owt.main(["--data-dir", str(data_dir)]) == 2
  assert "no *.xz archives" in capsys.readouterr().err
