"""The official SQuAD v1.1 / v2.0 and MRQA 2019 evaluations, in the
original's metric names and scale (x100).

The answer normalisation, EM and F1 are Model Garden's copies of the
official scripts (`official.nlp.tools.squad_evaluate_v1_1`,
`squad_evaluate_v2_0`); where those differ from the official scripts as
the original ran them, this module adapts:

- `squad_evaluate_v1_1.evaluate` returns fractions under `exact_match` and
  `final_f1`; the official script (and the original) report x100 under
  `exact_match` and `f1`;
- `squad_evaluate_v2_0.evaluate` applies a fixed `na_prob_thresh` of 1.0
  and names the searched optimum `final_exact` / `final_f1`; the original
  runs the official script with `na_prob_thresh = qa_na_threshold` (-2.75)
  and reports `best_exact(_thresh)` / `best_f1(_thresh)`;
- MRQA's official script (the original's `mrqa_official_eval.py`) scores
  only the questions that have a prediction, with v1.1's EM/F1.

v1.1 and MRQA F1 is 0 for an empty prediction; v2.0 F1 is 1 when the
prediction and the gold answer are both empty (unanswerable), 0 if only one is.
"""

from typing import Dict, List, Mapping

from official.nlp.tools import squad_evaluate_v1_1 as v1_eval, squad_evaluate_v2_0 as v2_eval

Dataset = List[Dict]  # SQuAD's "data" list: articles -> paragraphs -> qas


def squad_v1(dataset: Dataset, predictions: Mapping[str, str]) -> Dict[str, float]:
  """{"exact_match", "f1"} x100 over every question (a missing prediction scores 0)."""
  result = v1_eval.evaluate(dataset, dict(predictions))
  return {"exact_match": 100.0 * result["exact_match"], "f1": 100.0 * result["final_f1"]}


def squad_v2(dataset: Dataset, predictions: Mapping[str, str], null_odds: Mapping[str, float],
             na_prob_thresh: float) -> Dict[str, float]:
  """The official v2.0 metrics: `exact`, `f1`, `total`, `HasAns_*`, `NoAns_*`
  with questions whose null odds exceed `na_prob_thresh` predicted
  unanswerable, and `best_exact(_thresh)`, `best_f1(_thresh)` from the
  threshold search. Questions without a prediction are left out, as the
  official script does."""
  qid_to_has_ans = v2_eval._make_qid_to_has_ans(dataset)  # pylint: disable=protected-access
  exact_raw, f1_raw = v2_eval._get_raw_scores(dataset, predictions)  # pylint: disable=protected-access
  odds = {qid: null_odds[qid] for qid in exact_raw}
  has_answer = {qid: qid_to_has_ans[qid] for qid in exact_raw}
  exact = v2_eval._apply_no_ans_threshold(exact_raw, odds, has_answer, na_prob_thresh)  # pylint: disable=protected-access
  f1 = v2_eval._apply_no_ans_threshold(f1_raw, odds, has_answer, na_prob_thresh)  # pylint: disable=protected-access
  results = dict(v2_eval._make_eval_dict(exact, f1))  # pylint: disable=protected-access
  for prefix, wanted in (("HasAns", True), ("NoAns", False)):
    qids = [qid for qid, has in has_answer.items() if has == wanted]
    if qids:
      for key, value in v2_eval._make_eval_dict(exact, f1, qid_list=qids).items():  # pylint: disable=protected-access
        results[f"{prefix}_{key}"] = value
  for name, raw in (("exact", exact_raw), ("f1", f1_raw)):
    best, thresh = v2_eval._find_best_thresh(predictions, raw, odds, has_answer)  # pylint: disable=protected-access
    results[f"best_{name}"] = best
    results[f"best_{name}_thresh"] = thresh
  return results


def mrqa(gold_answers: Mapping[str, List[str]], predictions: Mapping[str, str]) -> Dict[str, float]:
  """{"exact_match", "f1"} x100 over the questions that have a prediction."""
  exact = f1 = 0.0
  total = 0
  for qid, answers in gold_answers.items():
    if qid not in predictions:
      continue
    total += 1
    exact += v1_eval._metric_max_over_ground_truths(  # pylint: disable=protected-access
        v1_eval._exact_match_score, predictions[qid], answers)  # pylint: disable=protected-access
    f1 += v1_eval._metric_max_over_ground_truths(  # pylint: disable=protected-access
        v1_eval._f1_score, predictions[qid], answers)  # pylint: disable=protected-access
  if not total:
    raise ValueError("no question has a prediction")
  return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}
