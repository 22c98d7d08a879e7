"""The official SQuAD v1.1 / v2.0 and MRQA metrics on hand-computed cases,
and where Model Garden's evaluators differ from the official scripts."""

import pytest
from official.nlp.tools import squad_evaluate_v1_1, squad_evaluate_v2_0

from finetune.qa import metrics


def dataset(gold):
  """{qid: [gold texts]} -> SQuAD's data layout."""
  return [{"paragraphs": [{"qas": [{"id": qid, "answers": [{"text": t} for t in texts]}
                                   for qid, texts in gold.items()]}]}]


V1_GOLD = {"q1": ["cat"], "q2": ["dog cat"], "q3": ["x"], "q4": ["red house", "blue"]}
V1_PREDICTIONS = {
    "q1": "the Cat",  # articles and case: EM 1
    "q2": "cat, dog!",  # punctuation, order: EM 0, F1 1
    "q3": "",  # empty prediction: 0, 0
    "q4": "blue house",  # best of several golds: F1 max(0.5, 2/3)
}


def test_squad_v1_hand_computed():
  results = metrics.squad_v1(dataset(V1_GOLD), V1_PREDICTIONS)
  assert list(results) == ["exact_match", "f1"]
  assert results["exact_match"] == pytest.approx(25.0)
  assert results["f1"] == pytest.approx(100 * (1 + 1 + 0 + 2 / 3) / 4)
  # A missing prediction counts as 0 over all questions.
  partial = metrics.squad_v1(dataset(V1_GOLD), {"q1": "cat"})
  assert partial == {"exact_match": 25.0, "f1": 25.0}


def test_model_gardens_v1_evaluator_reports_fractions():
  raw = squad_evaluate_v1_1.evaluate(dataset(V1_GOLD), V1_PREDICTIONS)
  assert raw["exact_match"] == pytest.approx(0.25)
  assert raw["final_f1"] == pytest.approx((1 + 1 + 0 + 2 / 3) / 4)


V2_GOLD = {"a": ["cat"], "b": [], "c": ["x y"], "d": []}
V2_PREDICTIONS = {"a": "cat", "b": "dog", "c": "x", "d": "z"}
V2_NULL_ODDS = {"a": -5.0, "b": 0.0, "c": -1.0, "d": -4.0}


def test_squad_v2_hand_computed():
  results = metrics.squad_v2(dataset(V2_GOLD), V2_PREDICTIONS, V2_NULL_ODDS, -2.75)
  # Null odds > -2.75 -> predicted unanswerable: b (right) and c (wrong).
  assert results == pytest.approx({
      "exact": 50.0, "f1": 50.0, "total": 4,
      "HasAns_exact": 50.0, "HasAns_f1": 50.0, "HasAns_total": 2,
      "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2,
      # Threshold search from "all unanswerable" (2 of 4) in order of null odds:
      # a +1 -> 3 (best, at -5), d -1, c +0 (EM) / +2/3 (F1), b -1.
      "best_exact": 75.0, "best_exact_thresh": -5.0,
      "best_f1": 75.0, "best_f1_thresh": -5.0})
  assert list(results)[:2] == ["exact", "f1"]
  # Empty prediction on an unanswerable question: EM and F1 1.
  empty = metrics.squad_v2(dataset({"b": []}), {"b": ""}, {"b": -10.0}, -2.75)
  assert (empty["exact"], empty["f1"]) == (100.0, 100.0)


def test_model_gardens_v2_evaluator_uses_a_fixed_threshold_of_one():
  raw = squad_evaluate_v2_0.evaluate(dataset(V2_GOLD), V2_PREDICTIONS, V2_NULL_ODDS)
  # No null odds exceed 1.0: only a is right.
  assert (raw["exact"], raw["final_exact"]) == (25.0, 75.0)
  ours = metrics.squad_v2(dataset(V2_GOLD), V2_PREDICTIONS, V2_NULL_ODDS, 1.0)
  assert ours["exact"] == raw["exact"] and ours["f1"] == pytest.approx(raw["f1"])
  assert ours["best_f1"] == pytest.approx(raw["final_f1"])


def test_mrqa_counts_only_predicted_questions():
  gold = {"a": ["x", "The X"], "b": ["y"], "c": ["z w"]}
  assert metrics.mrqa(gold, {"a": "x", "c": "z"}) == pytest.approx(
      {"exact_match": 50.0, "f1": 100 * (1 + 2 / 3) / 2})
  with pytest.raises(ValueError, match="no question has a prediction"):
    metrics.mrqa(gold, {})
