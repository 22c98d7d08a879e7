"""Words -> pieces: first-sub-token positions, the original's truncation, in Python and in-graph."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from finetune.tagging.featurization import align
from finetune.tagging.serving import align_in_graph
from tests.finetune.tagging.conftest import make_task, write

CLS, SEP = 101, 102

# (max_seq_length, pieces per word, expected length of input_ids, expected
# positions), worked out by hand from the original's rule: with n = words + 2,
# before each item stop (append [SEP]) if n + len(input_ids) + 1 > L.
TRUNCATION = [
    (10, [1, 1, 1], 5, [1, 2, 3]),     # everything fits
    (8, [1, 1, 1], 4, [1, 2]),         # quirk: cut with half the length unused
    (6, [1, 1, 1], 2, []),             # [CLS] [SEP]
    (5, [1, 1, 1], 1, []),             # n + 1 > L before [CLS]: only [SEP]
    (12, [1, 9, 1], 12, [1, 2]),       # a long word that just fits
    (12, [1, 10, 1], 3, [1]),          # the original overflowed L here (and failed)
    (10, [0, 2], 4, [1, 1]),           # a word without pieces points at the next token
    (3, [], 2, []),                    # no words
]


def pieces_of(lengths):
  return [[1000 + 10 * w + p for p in range(n)] for w, n in enumerate(lengths)]


@pytest.mark.parametrize("length,word_lengths,num_ids,positions", TRUNCATION)
def test_truncation_rule(length, word_lengths, num_ids, positions):
  ids, got = align(pieces_of(word_lengths), length, CLS, SEP)
  assert got == positions
  assert len(ids) == num_ids <= length and ids[-1] == SEP
  if num_ids > 1:
    assert ids[0] == CLS
  kept = [piece for word in pieces_of(word_lengths)[:len(positions)] for piece in word]
  assert ids[1:-1] == kept if num_ids > 1 else ids == [SEP]


def test_in_graph_alignment_equals_python():
  rng = np.random.default_rng(0)
  cases = [(length, lengths) for length, lengths, _, _ in TRUNCATION]
  cases += [(int(rng.integers(3, 40)), list(rng.integers(0, 6, int(rng.integers(0, 20)))))
            for _ in range(200)]
  width = max(len(lengths) for _, lengths in cases)
  for length in sorted({length for length, _ in cases}):
    rows = [lengths for l, lengths in cases if l == length]
    dense = np.zeros([len(rows), width], np.int32)
    for i, lengths in enumerate(rows):
      dense[i, :len(lengths)] = lengths
    got = align_in_graph(tf.constant(dense), tf.constant([len(r) for r in rows], tf.int32),
                         length)
    for i, lengths in enumerate(rows):
      ids, positions = align(pieces_of(lengths), length, CLS, SEP)
      kept = got["kept"][i].numpy()
      assert kept.sum() == len(positions) and kept[:len(positions)].all(), (length, lengths)
      assert got["positions"][i, :len(positions)].numpy().tolist() == positions
      assert int(got["length"][i]) == len(ids)
      assert int(got["cls_kept"][i]) == int(ids[0] == CLS and len(ids) > 1)


def test_first_sub_token_alignment_lower_cases_whatever_do_lower_case(data_dir):
  words = ["The", "Café", "isn't", "unaffable", ".", "\x01", "U.S."]
  write(data_dir, "chunk", "train", "".join(f"{w} S-X\n" for w in words) + "\nPARIS O\n")
  write(data_dir, "chunk", "dev", "a O\n")
  for do_lower_case in (True, False):
    task = make_task(data_dir, do_lower_case=do_lower_case, max_seq_length=20)
    examples = task.get_examples("train")
    features = task.featurize(examples, is_training=True)
    tokenizer = task.word_tokenizer()
    assert tokenizer.do_lower_case and tokenizer.strip_accents
    length = int(features["input_mask"][0].sum())
    tokens = tokenizer.convert_ids_to_tokens(features["input_ids"][0, :length].tolist())
    assert tokens == ["[CLS]", "the", "cafe", "isn", "'", "t", "una", "##ffa", "##ble", ".",
                      "u", ".", "s", ".", "[SEP]"]
    assert features["chunk_labeled_positions"][0, :8].tolist() == [1, 2, 3, 6, 9, 10, 10, 0]
    assert features["chunk_labels_mask"][0].tolist() == [1.0] * 7 + [0.0] * 13
    assert features["segment_ids"][0].tolist() == [1] * 15 + [0] * 5  # quirk: all ones
    assert task.label_list == ["O", "S-X"]
    assert features["chunk_labels"][0, :8].tolist() == [1] * 7 + [0]
    assert tokenizer.convert_ids_to_tokens(features["input_ids"][1, :3].tolist()) == [
        "[CLS]", "paris", "[SEP]"]
    assert features["chunk_eid"].tolist() == [0, 1]
    assert features["task_id"].tolist() == [0, 0]


def test_a_sentence_longer_than_max_seq_length_is_truncated_and_counted(data_dir, caplog):
  write(data_dir, "chunk", "train", "w0 B-NP\n" + "".join(f"w{i} I-NP\n" for i in range(1, 40))
        + "\nx O\n")
  write(data_dir, "chunk", "dev", "a O\n")
  task = make_task(data_dir, max_seq_length=32)
  with caplog.at_level(logging.WARNING):
    features = task.featurize(task.get_examples("train"), is_training=True)
  # 40 words of 2 pieces ("w", "##N"): n = 42; the rule stops before
  # len + 43 > 32, i.e. at once: the row is [SEP] alone.
  assert features["input_ids"][0, :2].tolist() == [SEP, 0]
  assert features["chunk_labels_mask"][0].sum() == 0
  assert "1 of 2 sentences were truncated to max_seq_length 32" in caplog.text
  assert "their last 40 words are not tagged nor scored" in caplog.text
  # The labels keep every word (up to L), as the original's.
  assert features["chunk_labels"][0].tolist() == [
      task.label_list.index(tag) for tag in ["B-NP"] + ["I-NP"] * 31]
