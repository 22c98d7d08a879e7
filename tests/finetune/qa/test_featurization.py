"""QA reading and featurisation: known answers on hand-built and real SQuAD rows."""

import logging
import os
import re

import numpy as np
import pytest

from electra_tf.config.hparams import ConfigError
from electra_tf.text.tokenization import FullTokenizer
from finetune import registry
from finetune.config import FinetuningConfig
from finetune.preprocessing import Preprocessor
from finetune.qa.examples import read_examples, split_context
from finetune.qa.featurization import (DecodingData, QAFeaturizer, check_is_max_context,
                                       improve_answer_span, make_doc_spans, window_tokens)
from finetune.task import FinetuningDataError
from tests.conftest import VOCAB_FILE
from tests.helpers.qa_fixtures import CONTEXT, qa, write_mrqa, write_squad

WORDS = CONTEXT.split()


@pytest.fixture(scope="module")
def tokenizer():
  return FullTokenizer(str(VOCAB_FILE))


def squad_task(data_dir, name="squad", **hparams):
  hparams = {"max_seq_length": 12, "max_query_length": 2, "doc_stride": 4, "beam_size": 4,
             "model_size": "tiny", **hparams}
  config = FinetuningConfig.create("m", str(data_dir), task_names=[name],
                                   vocab_file=str(VOCAB_FILE), **hparams)
  return registry.get_task(name, config, FullTokenizer(str(VOCAB_FILE)))


def test_split_context_maps_characters_to_whitespace_tokens():
  tokens, offsets = split_context(" ab  c\u202fd\te\n")
  assert tokens == ["ab", "c", "d", "e"]
  assert offsets == [-1, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3]


def test_windows_and_max_context_known_answer():
  # 13 WordPieces, windows of 7, stride 4: [0, 7), [4, 11), [8, 13).
  spans = make_doc_spans(13, 7, 4)
  assert [(s.start, s.length) for s in spans] == [(0, 7), (4, 7), (8, 5)]
  flags = [[check_is_max_context(spans, i, s.start + j) for j in range(s.length)]
           for i, s in enumerate(spans)]
  # Position 5: min(5, 1) + 0.07 in both of the first windows; the first wins the tie.
  assert flags == [[True] * 6 + [False], [False, False, True, True, True, True, False],
                   [False, False, True, True, True]]
  # A stride larger than the window is capped at the window (no token is skipped).
  assert [(s.start, s.length) for s in make_doc_spans(10, 4, 9)] == [(0, 4), (4, 4), (8, 2)]


def test_improve_answer_span_finds_the_answer_inside_a_whitespace_token(tokenizer):
  pieces = tokenizer.tokenize("(1895-1943).")
  assert pieces == ["(", "1895", "-", "1943", ")", "."]
  assert improve_answer_span(pieces, 0, 5, tokenizer.tokenize("1895")) == (1, 1)
  assert improve_answer_span(pieces, 0, 5, tokenizer.tokenize("1900")) == (0, 5)


def test_featurize_windows_labels_and_eids(tmp_path):
  questions = [
      qa("in2", "who ran", CONTEXT, "dog ran"),  # in windows 1 and 2
      qa("split", "who sat", CONTEXT, "mat and the dog"),  # only window 1 holds all of it
      qa("long", "who sat", CONTEXT, "cat sat on the mat and the dog"),  # 8 > 7: never fits
      qa("none", "who flew", CONTEXT, None, impossible=True),
  ]
  write_squad(str(tmp_path / "finetuning_data" / "squad" / "train.json"),
              [{"context": CONTEXT, "qas": questions}])
  task = squad_task(tmp_path)
  examples = task.get_examples("train")
  assert [e.is_impossible for e in examples] == [False, False, False, True]
  features, metadata = task.featurize_with_metadata(examples, is_training=True)
  assert metadata is None  # training is never decoded
  features, data = QAFeaturizer(task.tokenizer, 12, 2, 4).featurize(examples, True, "squad", 0)
  assert features["squad_eid"].tolist() == [0, 1, 2, 1000, 1001, 1002, 2000, 2001, 2002,
                                            3000, 3001, 3002]
  # [CLS] q q [SEP] = 4 positions before the context.
  assert features["squad_start_positions"].tolist() == [0, 8, 4, 0, 5, 0, 0, 0, 0, 0, 0, 0]
  assert features["squad_end_positions"].tolist() == [0, 9, 5, 0, 8, 0, 0, 0, 0, 0, 0, 0]
  assert features["squad_is_impossible"].tolist() == [0] * 9 + [1] * 3
  vocab = task.tokenizer
  window1 = vocab.convert_ids_to_tokens(features["input_ids"][1].tolist())
  assert window1 == ["[CLS]", "who", "ran", "[SEP]", "the", "mat", "and", "the", "dog", "ran",
                     "far", "[SEP]"]
  assert features["segment_ids"][1].tolist() == [0] * 4 + [1] * 8
  window2 = features["input_ids"][2]
  assert features["input_mask"][2].tolist() == [1] * 10 + [0] * 2
  assert window2[10:].tolist() == [0, 0]
  assert [w.doc_start for w in data.windows[:3]] == [0, 4, 8]
  assert window_tokens(data, data.windows[2]) == WORDS[8:]
  assert data.windows[1].max_context == "0011110"
  assert data.windows[1].num_tokens == 12 and data.windows[2].num_tokens == 10
  assert len(data.contexts) == 1  # one context shared by the four questions


def test_dev_features_have_no_positions_and_keep_gold_answers(tmp_path):
  write_squad(str(tmp_path / "finetuning_data" / "squad" / "dev.json"), [{
      "context": CONTEXT, "qas": [qa("a", "who ran", CONTEXT, "dog ran"),
                                  {"id": "b", "question": "who flew", "answers": []}]}])
  task = squad_task(tmp_path)
  features, metadata = task.featurize_with_metadata(task.get_examples("dev"), False)
  assert not features["squad_start_positions"].any()
  data = DecodingData.from_json(metadata)
  assert [(e.qas_id, e.gold_answers) for e in data.examples] == [("a", ["dog ran"]), ("b", [])]


def test_mismatched_answer_start_is_a_counted_skip_in_train(tmp_path, caplog):
  path = write_squad(str(tmp_path / "finetuning_data" / "squadv1" / "train.json"), [{
      "context": CONTEXT, "qas": [qa("ok", "who ran", CONTEXT, "dog ran"),
                                  qa("shifted", "who ran", CONTEXT, "dog ran", offset_shift=5),
                                  qa("past", "q", CONTEXT, "today", offset_shift=3)]}])
  with caplog.at_level(logging.WARNING):
    examples = read_examples(path, "squadv1", "train", v2=False)
  assert [e.qas_id for e in examples] == ["ok"]
  assert "skipped 2 of 3 training questions" in caplog.text
  # Dev questions are not checked: they carry no positions.
  assert len(read_examples(path, "squadv1", "dev", v2=False)) == 3


def test_bad_files_are_clear_errors(tmp_path):
  path = tmp_path / "dev.json"
  path.write_text('{"rows": [1, 2]}')
  with pytest.raises(FinetuningDataError, match=r"dev.json: no top-level \"data\" list; "
                                                "expected SQuAD JSON"):
    read_examples(str(path), "squad", "dev", v2=True)
  path.write_text('{"data": [{"paragraphs": [{"context": "x"}]}]}')
  with pytest.raises(FinetuningDataError, match=r"paragraphs\[0\]\): a paragraph without"):
    read_examples(str(path), "squad", "dev", v2=True)
  path.write_text('{"data": []}')
  with pytest.raises(FinetuningDataError, match="has no examples"):
    read_examples(str(path), "squad", "dev", v2=True)
  jsonl = tmp_path / "dev.jsonl"
  jsonl.write_text('{"header": {}}\n{"context": "a b", "qas": []}\nnot json\n')
  with pytest.raises(FinetuningDataError, match=r"dev.jsonl:3: not valid JSON"):
    read_examples(str(jsonl), "newsqa", "dev", v2=False)


@pytest.mark.parametrize("file_name", ["train.jsonl", "train.jsonl.gz"])
def test_mrqa_files_plain_and_gzipped_with_header(tmp_path, file_name):
  write_mrqa(str(tmp_path / "finetuning_data" / "mrqa_toy" / file_name), [{
      "context": CONTEXT, "qas": [qa("q1", "who ran", CONTEXT, "dog ran")]}])
  task = squad_task(tmp_path, name="mrqa_toy")
  assert task.data_file("train").endswith(file_name)
  [example] = task.get_examples("train")
  assert (example.qas_id, example.start_position, example.end_position) == ("q1", 8, 9)
  assert example.gold_answers == ["dog ran"]


@pytest.mark.parametrize("hparams, message", [
    ({"max_seq_length": 5, "max_query_length": 2}, r"max_seq_length 5 leaves no context.*>= 6"),
    ({"max_seq_length": 12, "beam_size": 20}, "beam_size 20 exceeds max_seq_length 12"),
])
def test_qa_hparams_that_cannot_window_are_refused(tmp_path, hparams, message):
  with pytest.raises(ConfigError, match=message):
    squad_task(tmp_path, **hparams)


def test_a_stride_larger_than_the_window_is_capped_with_a_warning(tmp_path, caplog):
  with caplog.at_level(logging.WARNING):
    squad_task(tmp_path, doc_stride=8)
  assert re.search(r"doc_stride 8 is larger than the context window .* = 7 WordPieces\): the "
                   "stride is capped", caplog.text)


def test_long_questions_are_truncated_and_counted(tmp_path, caplog):
  write_squad(str(tmp_path / "finetuning_data" / "squad" / "dev.json"), [{
      "context": CONTEXT, "qas": [qa("a", "who ran far away", CONTEXT, "dog ran")]}])
  task = squad_task(tmp_path)
  with caplog.at_level(logging.WARNING):
    features, _ = task.featurize_with_metadata(task.get_examples("dev"), False)
  assert "1 of 1 questions are longer than max_query_length 2" in caplog.text
  assert task.tokenizer.convert_ids_to_tokens(features["input_ids"][0][:4].tolist()) == [
      "[CLS]", "who", "ran", "[SEP]"]


def test_qa_defaults_follow_the_original():
  config = FinetuningConfig.create("m", "/d", task_names=["squad"])
  assert (config.max_seq_length, config.num_train_epochs) == (512, 2.0)
  # The original's quirk: "naturalqs" contains neither "squad" nor "qa".
  assert FinetuningConfig.create("m", "/d", task_names=["naturalqs"]).max_seq_length == 128
  assert FinetuningConfig.create("m", "/d", task_names=["mrqa_bioasq"]).max_seq_length == 512


def test_real_squad_rows_of_allennlp(allennlp_squad, tokenizer):
  examples = read_examples(allennlp_squad, "squadv1", "train", v2=False)
  assert len(examples) == 5
  featurizer = QAFeaturizer(tokenizer, 128, 64, 32)
  features, data = featurizer.featurize(examples, True, "squadv1", 0)
  answers = {}
  for row, window in enumerate(data.windows):
    start, end = (features[f"squadv1_{k}_positions"][row] for k in ("start", "end"))
    if start:
      ids = features["input_ids"][row][start:end + 1].tolist()
      answers.setdefault(examples[window.example].qas_id, set()).add(
          " ".join(tokenizer.convert_ids_to_tokens(ids)).replace(" ##", ""))
  assert answers == {
      "5733be284776f41900661182": {"saint bernadette soubirous"},
      "5733be284776f4190066117e": {"a golden statue of the virgin mary"},
      "5733b1da4776f41900661068": {"1882"},
      # The gold text ends inside a word: the answer pieces still match exactly.
      "5733b1da4776f4190066106b": {"father julius nieuwl"},
      "5733b1da4776f41900661067": {"an early wind tunnel"},
  }
  # The first context (695 characters) needs 3 windows, the second fits in one.
  assert np.bincount([w.example for w in data.windows]).tolist() == [3, 3, 1, 1, 1]


def test_decoding_data_survives_the_feature_cache(tmp_path):
  write_squad(str(tmp_path / "finetuning_data" / "squad" / "dev.json"), [{
      "context": CONTEXT, "qas": [qa("a", "who ran", CONTEXT, "dog ran")]}])
  task = squad_task(tmp_path)
  built = Preprocessor(task.config, [task]).prepare([task], "dev")
  expected = task.featurize_with_metadata(task.get_examples("dev"), False)[1]
  assert built.task_metadata("squad") == expected
  path = built.decoding_files["squad"]
  assert path == built.path[:-len(".tfrecord")] + ".squad.decoding.json"
  hit = Preprocessor(task.config, [task]).prepare([task], "dev")
  assert (hit.path, hit.decoding_files) == (built.path, built.decoding_files)
  assert hit.task_metadata("squad") == expected
  # Records without their decoding data are not a cache hit: they are rebuilt.
  os.remove(path)
  rebuilt = Preprocessor(task.config, [task]).prepare([task], "dev")
  assert os.path.exists(path) and rebuilt.task_metadata("squad") == expected


def test_debug_reads_the_debug_file_when_present(tmp_path):
  directory = tmp_path / "finetuning_data" / "squad"
  write_squad(str(directory / "train.json"), [])
  assert squad_task(tmp_path, debug=True).data_file("train") == str(directory / "train.json")
  write_squad(str(directory / "train-debug.json"), [])
  assert squad_task(tmp_path, debug=True).data_file("train") == str(directory / "train-debug.json")
  assert squad_task(tmp_path).data_file("train") == str(directory / "train.json")
