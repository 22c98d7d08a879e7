"""GLUE tasks on small files with the real layouts: reading, metrics, test files."""

import dataclasses
import os
import pickle

import numpy as np
import pytest

from electra_tf.config.hparams import ConfigError
from finetune import registry
from finetune.config import FinetuningConfig
from finetune.task import FinetuningDataError
from tests.conftest import VOCAB_FILE
from tests.helpers.glue_fixtures import write_task

ALL_TASKS = ["cola", "sst", "mrpc", "sts", "qqp", "mnli", "qnli", "rte", "wnli"]
# GLUE's submission file names, from the GLUE site's sample submission.
SUBMISSION_FILES = {
    ("cola", "test"): "CoLA.tsv", ("sst", "test"): "SST-2.tsv", ("mrpc", "test"): "MRPC.tsv",
    ("sts", "test"): "STS-B.tsv", ("qqp", "test"): "QQP.tsv", ("qnli", "test"): "QNLI.tsv",
    ("rte", "test"): "RTE.tsv", ("wnli", "test"): "WNLI.tsv",
    ("mnli", "test_matched"): "MNLI-m.tsv", ("mnli", "test_mismatched"): "MNLI-mm.tsv",
    ("mnli", "diagnostic"): "AX.tsv"}
LABELS = {"cola": ["0", "1"], "sst": ["0", "1"], "mrpc": ["0", "1"], "qqp": ["0", "1"],
          "mnli": ["contradiction", "entailment", "neutral"], "wnli": ["0", "1"],
          "qnli": ["entailment", "not_entailment"], "rte": ["entailment", "not_entailment"]}


def make_task(data_dir, name, **hparams):
  config = FinetuningConfig.create("m", str(data_dir), task_names=[name], model_size="tiny",
                                   vocab_file=str(VOCAB_FILE), **hparams)
  return registry.get_task(name, config)


def file_stem(task_name, split):
  return "dev_matched" if (task_name, split) == ("mnli", "dev") else split


def task_dir(data_dir, name):
  return os.path.join(str(data_dir), "finetuning_data", name)


# --- reading -------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_TASKS)
def test_every_split_reads_the_original_columns(tmp_path, name):
  expected = write_task(name, task_dir(tmp_path, name))
  task = make_task(tmp_path, name, double_unordered=False)
  splits = ["train"] + [split for split, _ in task.eval_splits()] + task.test_splits()
  assert sorted(map(lambda s: file_stem(name, s), splits)) == sorted(expected)
  for split in splits:
    examples = task.get_examples(split)
    want = expected[file_stem(name, split)]
    if name == "sts":
      want = [(a, b, 0.0 if y is None else float(y)) for a, b, y in want]
    else:
      want = [(a, b, LABELS[name][0] if y is None else y) for a, b, y in want]
    assert [(e.text_a, e.text_b, e.label) for e in examples] == want, split
    assert [e.eid for e in examples] == list(range(len(want)))
  # Quotes are kept literally (quotechar=None).
  texts = [t for split in splits for e in task.get_examples(split) for t in (e.text_a, e.text_b)]
  assert any('"hello"' in (t or "") for t in texts)


def test_task_kinds_labels_and_splits(tmp_path):
  for name in ALL_TASKS:
    task = make_task(tmp_path, name)
    assert task.name == name
    assert task.kind == ("regression" if name == "sts" else "classification")
    assert task.label_list == LABELS.get(name)
  write_task("mnli", task_dir(tmp_path, "mnli"))
  mnli = make_task(tmp_path, "mnli")
  assert mnli.eval_splits() == [("dev", ""), ("dev_mismatched", "mismatched_")]
  assert mnli.test_splits() == ["test_matched", "test_mismatched", "diagnostic"]
  assert mnli.data_file("dev").endswith(os.path.join("mnli", "dev_matched.tsv"))


def test_an_unknown_task_name_lists_the_valid_ones(tmp_path):
  with pytest.raises(ConfigError, match="Unknown task.*'glue'.*Valid tasks: chunk, cola, mnli, "
                                        "mrpc, naturalqs, ner, newsqa, pos, qnli, qqp, rte, searchqa, squad, "
                                        "squadv1, sst, sts, triviaqa, wnli, or mrqa_<name>"):
    make_task(tmp_path, "glue")
  config = make_task(tmp_path, "rte").config
  with pytest.raises(ConfigError, match="Valid tasks: chunk, cola"):
    registry.get_task("glue", config)
  with pytest.raises(ConfigError, match=r"Unknown task\(s\) \['glue'\] in task_names\. Valid "
                                        "tasks: chunk, cola, mnli"):
    registry.get_tasks(dataclasses.replace(config, task_names=["rte", "glue"]))


@pytest.mark.parametrize("name", ["mrpc", "sts"])
def test_double_unordered_appends_swapped_training_pairs(tmp_path, name):
  expected = write_task(name, task_dir(tmp_path, name))
  examples = make_task(tmp_path, name).get_examples("train")
  n = len(expected["train"])
  assert len(examples) == 2 * n
  for first, second in zip(examples[:n], examples[n:]):
    assert (second.text_a, second.text_b, second.label) == (first.text_b, first.text_a,
                                                            first.label)
    assert second.eid == first.eid + n
  assert len(make_task(tmp_path, name).get_examples("dev")) == n  # train only
  assert len(make_task(tmp_path, name, double_unordered=False).get_examples("train")) == n


def test_debug_reads_the_first_100_lines_as_the_original(tmp_path):
  write_task("sst", task_dir(tmp_path, "sst"), n=150)
  assert len(make_task(tmp_path, "sst").get_examples("train")) == 150
  assert len(make_task(tmp_path, "sst", debug=True).get_examples("train")) == 99  # + header


def test_double_unordered_leaves_other_tasks_alone(tmp_path):
  expected = write_task("rte", task_dir(tmp_path, "rte"))
  assert len(make_task(tmp_path, "rte").get_examples("train")) == len(expected["train"])


# --- malformed input -------------------------------------------------------------

def append_line(path, line):
  with open(path, "a") as f:
    f.write(line + "\n")


def test_a_row_with_the_wrong_number_of_columns_names_file_and_line(tmp_path):
  expected = write_task("rte", task_dir(tmp_path, "rte"))
  path = os.path.join(task_dir(tmp_path, "rte"), "train.tsv")
  append_line(path, "99\tonly one sentence\tentailment")
  line = len(expected["train"]) + 2  # header + rows + the bad row
  with pytest.raises(FinetuningDataError, match=f"{path}:{line}: 3 tab-separated columns "
                                                "where the header has 4"):
    make_task(tmp_path, "rte").get_examples("train")


def test_headerless_cola_checks_against_its_first_row(tmp_path):
  write_task("cola", task_dir(tmp_path, "cola"))
  path = os.path.join(task_dir(tmp_path, "cola"), "train.tsv")
  append_line(path, "gj04\t1\t\ta sentence with a\ttab")
  with pytest.raises(FinetuningDataError, match=f"{path}:7: 5 tab-separated columns where the "
                                                "first row has 4"):
    make_task(tmp_path, "cola").get_examples("train")


def test_skip_malformed_lines_skips_them_as_the_original(tmp_path, caplog):
  expected = write_task("rte", task_dir(tmp_path, "rte"))
  path = os.path.join(task_dir(tmp_path, "rte"), "train.tsv")
  append_line(path, "99\tbroken")
  append_line(path, "100\ta\tb\tentailment")
  examples = make_task(tmp_path, "rte", skip_malformed_lines=True).get_examples("train")
  assert len(examples) == len(expected["train"]) + 1
  assert examples[-1].eid == len(expected["train"]) + 1  # row index, as the original
  assert "skipped 1 malformed row(s) (lines 8)" in caplog.text


@pytest.mark.parametrize("name,label,message", [
    ("rte", "maybe", r"unknown label 'maybe'; the rte labels are \['entailment', "
                     r"'not_entailment'\]"),
    ("sts", "5.5", r"label 5.5 is outside the sts range \[0.0, 5.0\]"),
    ("sts", "high", r"label 'high' is not a number")])
def test_an_invalid_label_names_file_and_line(tmp_path, name, label, message):
  expected = write_task(name, task_dir(tmp_path, name))
  path = os.path.join(task_dir(tmp_path, name), "dev.tsv")
  with open(path) as f:
    lines = f.read().splitlines()
  fields = lines[3].split("\t")
  fields[-1] = label
  lines[3] = "\t".join(fields)
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  assert len(expected["dev"]) > 3
  with pytest.raises(FinetuningDataError, match=f"{path}:4: {message}"):
    make_task(tmp_path, name).get_examples("dev")


def test_an_empty_split_and_a_missing_file_are_errors(tmp_path):
  write_task("sst", task_dir(tmp_path, "sst"))
  path = os.path.join(task_dir(tmp_path, "sst"), "dev.tsv")
  with open(path, "w") as f:
    f.write("sentence\tlabel\n")
  task = make_task(tmp_path, "sst")
  with pytest.raises(FinetuningDataError, match=f"{path} has no examples"):
    task.get_examples("dev")
  os.remove(path)
  with pytest.raises(FinetuningDataError, match=f"{path} does not exist"):
    task.get_examples("dev")


def test_a_header_too_short_for_the_columns_is_the_wrong_file(tmp_path):
  write_task("sst", task_dir(tmp_path, "qnli"))  # SST's 2 columns where QNLI reads 4
  with pytest.raises(FinetuningDataError, match=r"train.tsv:1: the header has 2 columns"):
    make_task(tmp_path, "qnli").get_examples("train")


# --- metrics ---------------------------------------------------------------------

def independent_metrics(name, labels, predictions, losses):
  """The GLUE metrics, from their textbook definitions."""
  results = {"loss": np.mean(losses)}
  if name == "sts":
    def pearson(x, y):
      x, y = x - x.mean(), y - y.mean()
      return np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y))
    ranks = lambda v: np.argsort(np.argsort(v)).astype(float)  # no ties in the test data
    results.update(pearson=100 * pearson(labels, predictions),
                   spearman=100 * pearson(ranks(labels), ranks(predictions)),
                   mse=np.mean((labels - predictions) ** 2))
    return results
  tp = np.sum((labels == 1) & (predictions == 1))
  tn = np.sum((labels == 0) & (predictions == 0))
  fp = np.sum((labels == 0) & (predictions == 1))
  fn = np.sum((labels == 1) & (predictions == 0))
  if name == "cola":
    results["mcc"] = 100 * (tp * tn - fp * fn) / np.sqrt(
        float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    return results
  results["accuracy"] = 100 * np.sum(labels == predictions) / len(labels)
  if name in ("mrpc", "qqp"):
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    results["f1"] = 100 * 2 * precision * recall / (precision + recall)
  return results


@pytest.mark.parametrize("name", ALL_TASKS)
def test_metrics_equal_an_independent_computation(tmp_path, name):
  rng = np.random.default_rng(ALL_TASKS.index(name))
  task = make_task(tmp_path, name)
  n = 301
  losses = rng.random(n)
  if name == "sts":
    labels = rng.random(n)
    predictions = labels + rng.normal(scale=0.3, size=n)
    batches = [{"targets": labels[s], "predictions": predictions[s], "loss": losses[s]}
               for s in (slice(0, 100), slice(100, n))]
  else:
    num_labels = len(task.label_list)
    labels = rng.integers(0, num_labels, n)
    predictions = np.where(rng.random(n) < 0.7, labels, rng.integers(0, num_labels, n))
    batches = [{"label_ids": labels[s], "predictions": predictions[s], "loss": losses[s]}
               for s in (slice(0, 100), slice(100, n))]
  scorer = task.get_scorer()
  for batch in batches:
    scorer.update(batch)
  got = scorer.get_results()
  want = independent_metrics(name, labels, predictions, losses)
  assert sorted(got) == sorted(want)
  main = {"cola": "mcc", "sts": "pearson"}.get(name, "accuracy")
  assert list(got)[0] == main
  for key in want:
    assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-9), key
  assert 10 < got[main] < 100  # the data is neither random nor perfect


def test_mnli_three_class_mcc_free_accuracy(tmp_path):
  scorer = make_task(tmp_path, "mnli").get_scorer()
  scorer.update({"label_ids": np.array([0, 1, 2, 2]), "predictions": np.array([0, 1, 1, 2]),
                 "loss": np.array([1.0, 2.0, 3.0, 4.0])})
  assert scorer.get_results() == {"accuracy": 75.0, "loss": 2.5}


# --- test-set outputs --------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_TASKS)
def test_test_outputs_are_glue_submission_files(tmp_path, name):
  write_task(name, task_dir(tmp_path, name))
  task = make_task(tmp_path, name)
  rng = np.random.default_rng(0)
  for split in task.test_splits():
    examples = task.get_examples(split)
    n = len(examples)
    eids = np.array([e.eid for e in examples])[::-1]  # any order
    if name == "sts":
      predictions = rng.uniform(-0.2, 1.2, n).astype(np.float32)
      outputs = {"eid": eids, "predictions": predictions, "score": predictions * 5}
    else:
      logits = rng.normal(size=[n, len(task.label_list)]).astype(np.float32)
      outputs = {"eid": eids, "logits": logits, "predictions": logits.argmax(-1)}
    written = task.write_test_outputs(split, outputs, trial=3)

    submission = os.path.join(str(tmp_path), "models", "m", "test_predictions",
                              f"{name}_submission_3", SUBMISSION_FILES[(name, split)])
    pickle_path = os.path.join(str(tmp_path), "models", "m", "test_predictions",
                               f"{name}_{split}_3_predictions.pkl")
    assert sorted(written) == sorted([submission, pickle_path])
    with open(submission) as f:
      lines = f.read().splitlines()
    assert lines[0] == "index\tprediction"
    rows = [line.split("\t") for line in lines[1:]]
    with open(os.path.join(task_dir(tmp_path, name), f"{file_stem(name, split)}.tsv")) as f:
      indexes = [line.split("\t")[0] for line in f.read().splitlines()[1:]]
    assert [r[0] for r in rows] == indexes
    by_eid = dict(zip(eids.tolist(), range(n)))
    for eid, (_, prediction) in enumerate(rows):
      i = by_eid[eid]
      if name == "sts":
        assert prediction == f"{min(max(outputs['score'][i], 0.0), 5.0):.3f}"
      else:
        assert prediction == task.label_list[int(np.argmax(outputs["logits"][i]))]
    if name == "sts":
      assert {"0.000", "5.000"} <= {r[1] for r in rows}  # clipped to the 0-5 scale
    with open(pickle_path, "rb") as f:
      pickled = pickle.load(f)
    assert sorted(pickled) == list(range(n))
    key = "predictions" if name == "sts" else "logits"
    for eid, value in pickled.items():
      np.testing.assert_array_equal(value, outputs[key][by_eid[eid]])
  leftovers = [f for _, _, files in os.walk(tmp_path) for f in files if ".tmp" in f]
  assert not leftovers
