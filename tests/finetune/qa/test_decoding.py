"""Decoding: the original's candidate filters, n-best, get_final_text, v2 null odds."""

import numpy as np
import pytest

from electra_tf.text.tokenization import FullTokenizer
from finetune.qa.decoding import (DecodingParams, Predictions, decode, get_final_text,
                                  thresholded_answers)
from finetune.qa.examples import QAExample, split_context
from finetune.qa.featurization import QAFeaturizer
from tests.conftest import VOCAB_FILE
from tests.helpers.qa_fixtures import CONTEXT

K = 3


@pytest.fixture(scope="module")
def data():
  """CONTEXT in windows [0, 7), [4, 11), [8, 13) after "[CLS] who ran [SEP]"."""
  tokenizer = FullTokenizer(str(VOCAB_FILE))
  example = QAExample("sq", 0, "q0", "who ran", split_context(CONTEXT)[0])
  _, decoding_data = QAFeaturizer(tokenizer, 12, 2, 4).featurize([example], False, "sq", 0)
  return decoding_data


def joint_result(starts, start_log_probs, ends, end_log_probs, answerable=0.0):
  return {"start_top_index": np.array(starts), "start_top_log_probs": np.array(start_log_probs),
          "end_top_index": np.array(ends), "end_top_log_probs": np.array(end_log_probs),
          "start_logits": np.zeros(12), "end_logits": np.zeros(12),
          "answerable_logit": np.float32(answerable)}


def results_of_three_windows():
  # Input position p of window w is word doc_start + p - 4 (doc_start 0, 4, 8).
  return {
      # start 9 = "mat" (kept); start 0 = [CLS] and 2 = a question token (dropped).
      0: joint_result([9, 0, 2], [-0.1, -1, -2],
                      [[10, 8, 3], [4, 5, 6], [4, 5, 6]],  # 8 < start, 3 in the question
                      [[-0.2, -0.3, -0.4], [0, 0, 0], [0, 0, 0]], answerable=1.0),
      # start 4 = "the": max context of window 0, dropped here; 11 = the final [SEP].
      1: joint_result([4, 8, 11], [-0.05, -0.5, -0.6],
                      [[5, 6, 7], [9, 8, 10], [11, 11, 11]],  # 8..10 is 3 pieces > 2
                      [[0, 0, 0], [-0.1, -0.2, -3], [0, 0, 0]], answerable=-0.5),
      # start 4 = "dog": max context of window 1, dropped; 9 = the final [SEP].
      2: joint_result([4, 6, 7], [-0.01, -0.2, -0.3],
                      [[5, 6, 7], [7, 6, 5], [8, 7, 9]],
                      [[0, 0, 0], [-0.05, -0.9, -0.1], [-0.5, -0.6, -0.01]], answerable=2.0),
  }


def test_joint_candidates_filters_nbest_and_null_odds(data):
  params = DecodingParams(n_best_size=20, max_answer_length=2, v2=True)
  predictions = decode(data, results_of_three_windows(), params)
  nbest = predictions.nbest["q0"]
  assert [(text, round(s + e, 6)) for text, _, s, e in nbest] == [
      ("far away", -0.25), ("mat and", -0.3), ("dog ran", -0.6), ("dog", -0.7),
      ("away today", -0.8), ("away", -0.9), ("far", -1.1)]
  scores = np.array([s + e for _, _, s, e in nbest])
  np.testing.assert_allclose([p for _, p, _, _ in nbest], np.exp(scores) / np.exp(scores).sum())
  assert predictions.answers == {"q0": "far away"}
  # v2 null odds: the minimum over windows of the answerable logit.
  assert predictions.null_odds == {"q0": -0.5}
  assert thresholded_answers(predictions, -2.75) == {"q0": ""}
  assert thresholded_answers(predictions, 0.0) == {"q0": "far away"}


def test_nbest_size_max_answer_length_and_v1(data):
  params = DecodingParams(n_best_size=2, max_answer_length=1)
  predictions = decode(data, results_of_three_windows(), params)
  assert [t for t, _, _, _ in predictions.nbest["q0"]] == ["dog", "away"]
  assert predictions.answers == {"q0": "dog"} and predictions.null_odds == {}


def test_no_valid_span_gives_the_originals_empty(data):
  results = {eid: joint_result([0, 1, 2], [0, 0, 0], [[0] * 3] * 3, [[0] * 3] * 3)
             for eid in (0, 1, 2)}
  assert decode(data, results, DecodingParams()).answers == {"q0": "empty"}
  with pytest.raises(ValueError, match="no model output for window eid 2 of question q0"):
    decode(data, {0: results[0], 1: results[1]}, DecodingParams())


def test_independent_start_end_and_null_score_without_classifier(data):
  def logits(values):
    array = np.full(12, -5.0)
    for position, value in values.items():
      array[position] = value
    return array
  result = {"start_logits": logits({0: 1.0, 5: 3.0, 6: 2.0}),
            "end_logits": logits({0: 0.5, 6: 2.5, 7: 0.0}),
            "answerable_logit": np.float32(0.0)}
  # Only window 0 has candidates; the other windows' null scores are higher.
  far = {"start_logits": logits({0: 4.0}), "end_logits": logits({0: 4.0}),
         "answerable_logit": np.float32(0.0)}
  params = DecodingParams(n_best_size=3, joint_prediction=False, answerable_classifier=False,
                          v2=True)
  predictions = decode(data, {0: result, 1: far, 2: far}, params)
  # Window 0 starts at word 0: positions 5, 6 are words 1, 2.
  assert predictions.nbest["q0"][0][0] == "cat sat"
  # null odds = min over windows of start[0] + end[0], minus the best span's score.
  assert predictions.null_odds["q0"] == pytest.approx(1.5 - (3.0 + 2.5))


@pytest.mark.parametrize("pred, orig, expected", [
    ("steve smith", "Steve Smith's", "Steve Smith"),
    ("cafe", "Café.", "Café"),
    ("1895", "(1895-1943).", "1895"),
    ("nothing like it", "Other Text", "Other Text"),  # not found: the original span
])
def test_get_final_text(pred, orig, expected):
  assert get_final_text(pred, orig, do_lower_case=True) == expected


def test_get_final_text_cased():
  assert get_final_text("Smith", "Mr. Smith,", do_lower_case=False) == "Smith"
  assert get_final_text("smith", "Mr. Smith,", do_lower_case=False) == "Mr. Smith,"


def test_thresholded_answers_is_strictly_greater():
  predictions = Predictions({"a": "x", "b": "y"}, {"a": -2.75, "b": -2.74}, {})
  assert thresholded_answers(predictions, -2.75) == {"a": "x", "b": ""}
