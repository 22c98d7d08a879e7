"""The SQuAD task's scorer and test outputs: files and metrics from given outputs."""

import json

import numpy as np

from tests.finetune.qa.test_featurization import squad_task
from tests.helpers.qa_fixtures import CONTEXT, qa, write_squad

K = 4


def outputs_for(eids, answer_window, answerable):
  """Per-window outputs: only `answer_window` proposes "dog ran" (positions 8, 9)."""
  n = len(eids)
  start_index = np.zeros([n, K], np.int32)
  end_index = np.zeros([n, K, K], np.int32)
  start_index[answer_window, 0] = 8
  end_index[answer_window, 0, 0] = 9
  return {"eid": np.array(eids), "start_top_index": start_index,
          "start_top_log_probs": np.full([n, K], -1.0), "end_top_index": end_index,
          "end_top_log_probs": np.full([n, K, K], -1.0), "start_logits": np.zeros([n, 12]),
          "end_logits": np.zeros([n, 12]), "answerable_logit": np.array(answerable, np.float32)}


def test_squad_scorer_writes_predictions_null_odds_submission_and_metrics(tmp_path):
  write_squad(str(tmp_path / "finetuning_data" / "squad" / "dev.json"), [{
      "context": CONTEXT, "qas": [qa("a", "who ran", CONTEXT, "dog ran"),
                                  {"id": "b", "question": "who flew", "answers": []}]}])
  task = squad_task(tmp_path)
  features, metadata = task.featurize_with_metadata(task.get_examples("dev"), False)
  eids = features["squad_eid"].tolist()
  assert eids == [0, 1, 2, 1000, 1001, 1002]
  scorer = task.get_split_scorer("dev", json.loads(json.dumps(metadata)))
  # Question a: null odds min(-4, -3, -5) = -5 -> answered; b: min(-1, 0, 2) = -1 > -2.75.
  scorer.update(outputs_for(eids, 1, [-4, -3, -5, -1, 0, 2]))
  results = scorer.get_results()
  qa_dir = tmp_path / "models" / "m" / "results" / "squad_qa"
  read = lambda name: json.loads((qa_dir / f"squad_{name}.json").read_text())  # noqa: E731
  assert read("preds") == {"a": "dog ran", "b": "empty"}
  assert read("null_odds") == {"a": -5.0, "b": -1.0}
  assert read("submission") == {"a": "dog ran", "b": ""}
  assert results["exact"] == 100.0 and results["HasAns_total"] == 1
  assert read("eval") == results


def test_squad_test_outputs_are_thresholded_json(tmp_path):
  write_squad(str(tmp_path / "finetuning_data" / "squad" / "test.json"), [{
      "context": CONTEXT, "qas": [{"id": "t", "question": "who ran", "answers": []}]}])
  task = squad_task(tmp_path)
  features, metadata = task.featurize_with_metadata(task.get_examples("test"), False)
  assert task.test_splits() == ["test"]
  written = task.write_split_test_outputs(
      "test", outputs_for(features["squad_eid"].tolist(), 1, [-3, -4, -9]), 1, metadata)
  assert [p.rsplit("/", 1)[1] for p in written] == ["squad_test_1_predictions.pkl",
                                                    "squad_test_1_predictions.json"]
  for path in written:
    with open(path) as f:
      assert json.load(f) == {"t": "dog ran"}
