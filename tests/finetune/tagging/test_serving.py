"""The tagging raw-text signature featurises as fine-tuning and tags each word's first piece."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.serving import export
from finetune import modeling
from finetune.serving import task_exportable
from tests.conftest import VOCAB_FILE
from tests.finetune.tagging.conftest import make_task, write

MAX_SEQ_LENGTH = 32
SENTENCES = [
    "The Café isn't unaffable .",
    "",
    "  tabs\tand\u00a0non-breaking   spaces  ",
    "a \x01 word without pieces",
    " ".join(f"w{i}" for i in range(40)),            # more words than fit: only [SEP]
    "short " + "x" * 60 + " tail",                    # a word longer than the room left
    "Zürich naïve U.S. résumé",
    # Words split on every character Python's str.split() splits on.
    "a" + "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) + "b\u3000c\x1fd",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("tagging_serving")
  shutil.copyfile(VOCAB_FILE, data_dir / "vocab.txt")
  write(data_dir, "chunk", "train", "a B-NP\nb I-NP\nc B-VP\n\nd O\n")
  write(data_dir, "chunk", "dev", "e O\n")
  task = make_task(data_dir, do_lower_case=False, max_seq_length=MAX_SEQ_LENGTH)
  model = modeling.build_model(task.config, [task])
  do_lower_case, strip_accents = task.tokenizer_casing(False, False)
  exportable = task_exportable(model, task, encoder_config=model.bert_config,
                               vocab_file=task.config.vocab_file, max_seq_length=MAX_SEQ_LENGTH,
                               do_lower_case=do_lower_case, strip_accents=strip_accents)
  path = export.export_saved_model(exportable, str(data_dir / "export"), log=lambda _: None)
  return task, model, tf.saved_model.load(path)


def test_raw_text_equals_python_featurisation_and_in_process_tags(served):
  task, model, loaded = served
  outputs = {k: v.numpy() for k, v in
             loaded.signatures["serving_default"](text=tf.constant(SENTENCES)).items()}
  words = [sentence.split() for sentence in SENTENCES]
  encoded = task.encode_words(words)
  logits = model({k: tf.constant(outputs[k]) for k in ("input_ids", "input_mask",
                                                       "segment_ids")},
                 training=False)["chunk"]["logits"].numpy()
  assert outputs["words"].shape[0] == len(SENTENCES)
  for row, (sentence_words, (ids, positions)) in enumerate(zip(words, encoded)):
    np.testing.assert_array_equal(outputs["input_ids"][row, :len(ids)], ids)
    assert not outputs["input_ids"][row, len(ids):].any()
    assert outputs["input_mask"][row].sum() == len(ids) == outputs["segment_ids"][row].sum()
    assert [w.decode() for w in outputs["words"][row][:len(sentence_words)]] == sentence_words
    want = [task.label_list[i] for i in logits[row, positions].argmax(-1)] if positions else []
    served_tags = [t.decode() for t in outputs["tags"][row]]
    assert served_tags[:len(positions)] == want
    assert all(t == "" for t in served_tags[len(positions):])
    assert (outputs["tag_ids"][row, len(positions):] == -1).all()
  assert len(encoded[4][1]) == 0 and encoded[4][0] == [102]      # the quirk, served too
  assert len(encoded[5][1]) == 1                                   # stops before the long word
  assert encoded[3][1][1] == encoded[3][1][2]                      # "\x01" has no pieces
  tokens = task.word_tokenizer().convert_ids_to_tokens(encoded[0][0])
  assert tokens[:4] == ["[CLS]", "the", "cafe", "isn"]            # lower-cased regardless


def test_serve_ids_tags_every_token(served):
  task, model, loaded = served
  ids, _ = task.encode_words([["Hello", "world"]])[0]
  features = {"input_ids": tf.constant([ids], tf.int32),
              "input_mask": tf.ones([1, len(ids)], tf.int32),
              "segment_ids": tf.ones([1, len(ids)], tf.int32)}
  outputs = loaded.signatures["serve_ids"](**features)
  want = model(features, training=False)["chunk"]["logits"].numpy()
  np.testing.assert_allclose(outputs["logits"].numpy(), want, atol=1e-5)
  assert outputs["tags"].shape == (1, len(ids))
  assert [t.decode() for t in outputs["tags"].numpy()[0]] == [
      task.label_list[i] for i in want[0].argmax(-1)]
