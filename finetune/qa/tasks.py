"""The span-QA tasks: SQuAD 2.0 (`squad`), SQuAD 1.1 (`squadv1`) and MRQA.

The original's `QATask`, `SQuADTask`, `SQuADv1`, `MRQATask` and
`SpanBasedQAScorer` (`finetune/qa/qa_tasks.py`, `qa_metrics.py`):

| task | files in `<data_dir>/finetuning_data/<task>/` | v2 | metrics |
|------|------------------------------------------------|----|---------|
| `squad` | `train.json`, `dev.json` (`test.json` for test outputs) | yes | official v2.0 |
| `squadv1` | `train.json`, `dev.json` | no | official v1.1 |
| `newsqa`, `naturalqs`, `triviaqa`, `searchqa`, `mrqa_<any>` | `train.jsonl`, `dev.jsonl` (or the official `.jsonl.gz`) | no | MRQA |

In `debug` mode a `<split>-debug.json(l)` file is read when it exists, as
the original. Reading and featurisation: `finetune.qa.examples`,
`finetune.qa.featurization`; head and loss: `finetune.qa.head`; decoding:
`finetune.qa.decoding`; metrics: `finetune.qa.metrics`.

Dev scoring writes `<model>/results/<tasks>_qa/<task>_preds.json` (id ->
text; for v2 the best non-null text, as the original), for v2
`<task>_null_odds.json` (id -> min over windows of the answerable logit)
and `<task>_submission.json` (the predictions with `qa_na_threshold`
applied: "" where the null odds exceed it), and `<task>_eval.json`.
`write_test_outputs` (squad only): the thresholded predictions of
`test.json` as JSON at the original's `test_predictions/squad_test_<trial>_predictions.pkl`
path, and the same JSON as `..._predictions.json`.
"""

import logging
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from electra_tf import fileio
from electra_tf.config.hparams import ConfigError
from electra_tf.config.model import TransformerConfig
from finetune.qa import decoding, metrics
from finetune.qa.examples import QAExample, gold_dataset, read_examples
from finetune.qa.featurization import DecodingData, QAFeaturizer
from finetune.qa.head import SpanQAHead, span_loss
from finetune.qa.serving import QAServingParams, QuestionContextInputs
from finetune.task import FeatureSpec, Scorer, Task

logger = logging.getLogger(__name__)

MRQA_TASK_NAMES = ("newsqa", "naturalqs", "triviaqa", "searchqa")
GENERIC_MRQA_PREFIX = "mrqa_"
# The outputs decoding reads, per window.
_DECODED_OUTPUTS = ("start_logits", "end_logits", "answerable_logit", "start_top_log_probs",
                    "start_top_index", "end_top_log_probs", "end_top_index")


def check_qa_hparams(config) -> None:
  """Raises ConfigError for QA hparams that cannot window or decode; warns
  when windows cannot overlap."""
  for key in ("max_query_length", "doc_stride", "n_best_size", "max_answer_length",
              "beam_size"):
    if getattr(config, key) <= 0:
      raise ConfigError(f"{key} must be positive, got {getattr(config, key)}")
  length, query = config.max_seq_length, config.max_query_length
  if length < query + 4:
    raise ConfigError(
        f"max_seq_length {length} leaves no context after a question of max_query_length "
        f"{query} WordPieces plus [CLS], [SEP], [SEP]; use max_seq_length >= {query + 4} "
        "or lower max_query_length")
  if config.joint_prediction and config.beam_size > length:
    raise ConfigError(f"beam_size {config.beam_size} exceeds max_seq_length {length}: the "
                      "head takes the top beam_size start and end positions of the input; "
                      f"use beam_size <= {length}")
  smallest_window = length - query - 3
  if config.doc_stride > smallest_window:
    logger.warning(
        "doc_stride %d is larger than the context window of a max_query_length question "
        "(%d - %d - 3 = %d WordPieces): the stride is capped at the window, as the "
        "original, so such windows do not overlap and answers across their boundary are "
        "lost in training; set doc_stride <= %d for overlapping windows",
        config.doc_stride, length, query, smallest_window, smallest_window)


class QATask(Task):
  """An extractive QA task (the original's `QATask`).

  Serving: `serve_ids` returns the head's inference outputs (the ones
  decoding reads); `serving_default` answers raw (question, context)
  strings (`finetune.qa.serving`).
  """
  kind = "span"
  serving_output_names = _DECODED_OUTPUTS
  v2 = False
  extension = ".json"

  def __init__(self, config, name: str, tokenizer=None):
    super().__init__(config, name, tokenizer)
    check_qa_hparams(config)

  # --- data ---------------------------------------------------------------------

  def data_file(self, split: str) -> str:
    directory = self.config.raw_data_dir(self.name)
    candidates = [split + self.extension]
    if self.extension == ".jsonl":
      candidates.append(split + ".jsonl.gz")
    if self.config.debug:
      candidates = [split + "-debug" + self.extension] + candidates
    for candidate in candidates:
      if tf.io.gfile.exists(os.path.join(directory, candidate)):
        return os.path.join(directory, candidate)
    return os.path.join(directory, split + self.extension)

  def get_examples(self, split: str) -> List[QAExample]:
    return read_examples(self.data_file(split), self.name, split, self.v2)

  # --- features -------------------------------------------------------------------

  def feature_specs(self) -> List[FeatureSpec]:
    return [FeatureSpec(f"{self.name}_{key}")
            for key in ("eid", "start_positions", "end_positions", "is_impossible")]

  def featurization_params(self):
    config = self.config
    return {**super().featurization_params(), "max_query_length": config.max_query_length,
            "doc_stride": config.doc_stride, "v2": self.v2}

  def featurize_with_metadata(self, examples: Sequence[QAExample], is_training: bool,
                              log: bool = False):
    if self.tokenizer is None:
      raise ValueError(f"task {self.name} was built without a tokenizer")
    config = self.config
    featurizer = QAFeaturizer(self.tokenizer, config.max_seq_length, config.max_query_length,
                              config.doc_stride)
    features, data = featurizer.featurize(examples, is_training, self.name, self.task_id)
    if featurizer.truncated_questions:
      logger.warning("%s: %d of %d questions are longer than max_query_length %d WordPieces "
                     "and were truncated (as the original)", self.name,
                     featurizer.truncated_questions, len(examples), config.max_query_length)
    logger.info("%s: %d questions -> %d windows", self.name, len(examples), len(data.windows))
    if log and examples:
      ids = features["input_ids"][0][features["input_mask"][0] == 1].tolist()
      logger.info("%s example %s: %s\n  tokens: %s\n  start/end: %d %d", self.name,
                  examples[0].qas_id, examples[0],
                  " ".join(self.tokenizer.convert_ids_to_tokens(ids)),
                  features[f"{self.name}_start_positions"][0],
                  features[f"{self.name}_end_positions"][0])
    # Training is never decoded: its (large) decoding data is not kept.
    return features, None if is_training else data.to_json()

  def featurize(self, examples, is_training, log=False):
    return self.featurize_with_metadata(examples, is_training, log)[0]

  # --- model ------------------------------------------------------------------------

  def build_head(self, bert_config: TransformerConfig) -> SpanQAHead:
    config = self.config
    return SpanQAHead(self.name, config.beam_size, config.joint_prediction,
                      config.answerable_classifier, config.answerable_uses_start_logits,
                      name=f"task_specific_{self.name}")

  def loss(self, outputs, features):
    prefix = self.name + "_"
    return span_loss(outputs, features[prefix + "start_positions"],
                     features[prefix + "end_positions"], features[prefix + "is_impossible"],
                     self.config.answerable_weight, self.config.answerable_classifier)

  # --- serving ----------------------------------------------------------------------

  def serving_outputs(self, outputs):
    return {key: outputs[key] for key in _DECODED_OUTPUTS}

  def serving_text_inputs(self) -> QuestionContextInputs:
    config = self.config
    return QuestionContextInputs(QAServingParams(
        config.max_query_length, config.doc_stride, config.n_best_size,
        config.max_answer_length, config.joint_prediction, config.answerable_classifier))

  # --- evaluation -------------------------------------------------------------------

  def get_scorer(self) -> Scorer:
    raise TypeError(f"the {self.name} scorer decodes with the split's featurisation data: "
                    "use get_split_scorer(split, metadata)")

  def get_split_scorer(self, split: str, metadata: Optional[Dict]) -> "SpanQAScorer":
    if metadata is None:
      raise ValueError(f"{self.name} {split}: no decoding data beside the cached records")
    return SpanQAScorer(self, DecodingData.from_json(metadata))

  def decoding_params(self) -> decoding.DecodingParams:
    config = self.config
    return decoding.DecodingParams(config.n_best_size, config.max_answer_length,
                                   config.joint_prediction, config.answerable_classifier,
                                   config.do_lower_case, self.v2)

  def qa_results_file(self, kind: str) -> str:
    """`<model>/results/<tasks>_qa/<task>_<kind>.json` (the original's QA files)."""
    return os.path.join(self.config.pretrained_model_dir, "results",
                        ",".join(self.config.task_names) + "_qa", f"{self.name}_{kind}.json")

  def compute_metrics(self, data: DecodingData,
                      predictions: decoding.Predictions) -> Dict[str, float]:
    raise NotImplementedError


class SpanQAScorer(Scorer):
  """Collects per-window outputs, decodes them and scores the answers;
  writes the predictions files (the original's `SpanBasedQAScorer`)."""

  def __init__(self, task: QATask, data: DecodingData):
    self.task = task
    self.data = data
    self.results: Dict[int, Dict[str, np.ndarray]] = {}
    self.predictions: Optional[decoding.Predictions] = None

  def update(self, outputs: Dict[str, np.ndarray]) -> None:
    for i, eid in enumerate(outputs["eid"].tolist()):
      self.results[eid] = {key: outputs[key][i] for key in _DECODED_OUTPUTS}

  def decode(self) -> decoding.Predictions:
    self.predictions = decoding.decode(self.data, self.results, self.task.decoding_params())
    return self.predictions

  def get_results(self) -> Dict[str, float]:
    task = self.task
    predictions = self.decode()
    fileio.write_json(task.qa_results_file("preds"), predictions.answers)
    if task.v2:
      fileio.write_json(task.qa_results_file("null_odds"), predictions.null_odds)
      fileio.write_json(task.qa_results_file("submission"), decoding.thresholded_answers(
          predictions, task.config.qa_na_threshold))
    results = task.compute_metrics(self.data, predictions)
    fileio.write_json(task.qa_results_file("eval"), results)
    return results


class SQuADv1(QATask):
  """SQuAD 1.1: every question has an answer."""
  name = "squadv1"

  def __init__(self, config, tokenizer=None):
    super().__init__(config, self.name, tokenizer)

  def compute_metrics(self, data, predictions):
    return metrics.squad_v1(_gold(data), predictions.answers)


class SQuAD(QATask):
  """SQuAD 2.0: answerable and unanswerable questions."""
  name = "squad"
  v2 = True

  def __init__(self, config, tokenizer=None):
    super().__init__(config, self.name, tokenizer)

  def compute_metrics(self, data, predictions):
    return metrics.squad_v2(_gold(data), predictions.answers, predictions.null_odds,
                            self.config.qa_na_threshold)

  def test_splits(self) -> List[str]:
    return ["test"]

  def write_split_test_outputs(self, split, outputs, trial, metadata):
    scorer = self.get_split_scorer(split, metadata)
    scorer.update(outputs)
    answers = decoding.thresholded_answers(scorer.decode(), self.config.qa_na_threshold)
    pickle_path = self.config.test_predictions(self.name, split, trial)
    json_path = pickle_path[:-len(".pkl")] + ".json"
    for path in (pickle_path, json_path):
      fileio.write_json(path, answers)
    return [pickle_path, json_path]


class MRQATask(QATask):
  """An MRQA 2019 shared-task dataset (JSON lines)."""
  extension = ".jsonl"

  def compute_metrics(self, data, predictions):
    gold = {info.qas_id: info.gold_answers for info in data.examples}
    return metrics.mrqa(gold, predictions.answers)


def _gold(data: DecodingData):
  return gold_dataset([QAExample("", i, info.qas_id, "", [], gold_answers=info.gold_answers)
                       for i, info in enumerate(data.examples)])


def mrqa_factory(name: str):
  """A registry factory for the MRQA task `name`."""
  def factory(config, tokenizer=None):
    return MRQATask(config, name, tokenizer)
  factory.name = name
  return factory


QA_TASKS = (SQuAD, SQuADv1) + tuple(mrqa_factory(name) for name in MRQA_TASK_NAMES)
