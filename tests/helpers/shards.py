"""Corpora and checks shared by the data-prep tests."""

import pathlib
import random
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from data_prep import corpus
from electra_tf.text.vocab import load_vocab
from tests.conftest import VOCAB_FILE

CLS, SEP = 101, 102


def single_token_words() -> Dict[str, int]:
  """Plain lower-case words of the BERT vocab that are one token each."""
  vocab = load_vocab(str(VOCAB_FILE))
  return {w: i for w, i in vocab.items() if w.isascii() and w.isalpha()
          and w.islower() and len(w) >= 3}


def write_disjoint_documents(corpus_dir: pathlib.Path, num_files: int = 3,
                             docs_per_file: int = 4, seed: int = 0
                             ) -> Dict[int, int]:
  """Files of blank-line-separated documents whose words never repeat across
  documents. Returns token id -> global document index.

  Document lengths vary from a few tokens to several examples' worth; blank
  lines are sometimes doubled; the last file has no final newline.
  """
  rng = random.Random(seed)
  words = sorted(single_token_words().items())
  rng.shuffle(words)
  corpus_dir.mkdir(parents=True, exist_ok=True)
  owner: Dict[int, int] = {}
  doc = 0
  for file_index in range(num_files):
    documents = []
    for _ in range(docs_per_file):
      doc_words = words[doc * 40:(doc + 1) * 40]
      owner.update({i: doc for _, i in doc_words})
      lines = [" ".join(rng.choice(doc_words)[0] for _ in range(rng.randint(1, 25)))
               for _ in range(rng.choice([1, 3, 12, 40]))]
      documents.append("\n".join(lines))
      doc += 1
    text = "".join(d + rng.choice(["\n\n", "\n\n\n"]) for d in documents)
    if file_index == num_files - 1:
      text = text.rstrip("\n")
    (corpus_dir / f"part{file_index}.txt").write_text(text, encoding="utf-8")
  return owner


def read_shards(output_dir) -> List[Dict[str, np.ndarray]]:
  """Every example of every final shard, in shard order."""
  paths = sorted(pathlib.Path(output_dir).glob("pretrain_data.tfrecord-*"))
  examples = []
  for path in paths:
    for record in tf.data.TFRecordDataset(str(path)):
      example = tf.train.Example.FromString(record.numpy())
      examples.append({name: np.array(example.features.feature[name].int64_list.value)
                       for name in ("input_ids", "input_mask", "segment_ids")})
  return examples


def check_example(input_ids: Sequence[int], input_mask: Sequence[int],
                  segment_ids: Sequence[int], max_seq_length: int) -> None:
  """The layout every example must have: [CLS] A [SEP] (B [SEP]) then padding."""
  input_ids, input_mask, segment_ids = map(np.asarray, (input_ids, input_mask, segment_ids))
  assert input_ids.shape == input_mask.shape == segment_ids.shape == (max_seq_length,)
  num_tokens = int(input_mask.sum())
  assert num_tokens >= 3
  np.testing.assert_array_equal(input_mask, [1] * num_tokens + [0] * (max_seq_length - num_tokens))
  np.testing.assert_array_equal(input_ids[num_tokens:], 0)
  np.testing.assert_array_equal(segment_ids[num_tokens:], 0)
  tokens = input_ids[:num_tokens]
  assert tokens[0] == CLS and tokens[-1] == SEP
  assert CLS not in tokens[1:]
  seps = np.flatnonzero(tokens == SEP)
  assert len(seps) in (1, 2)
  if len(seps) == 2:
    assert seps[0] >= 2 and seps[1] - seps[0] >= 2  # both segments non-empty
  expected_segments = np.zeros(num_tokens, dtype=int)
  expected_segments[seps[0] + 1:] = 1
  np.testing.assert_array_equal(segment_ids[:num_tokens], expected_segments)


def list_output(output_dir) -> List[str]:
  return sorted(p.name for p in pathlib.Path(output_dir).iterdir())


def temp_shards(output_dir) -> List[str]:
  return [n for n in list_output(output_dir) if corpus._TEMP_SHARD.fullmatch(n)]  # pylint: disable=protected-access


def final_shards(output_dir) -> List[str]:
  return [n for n in list_output(output_dir) if n.startswith("pretrain_data.tfrecord")]
