"""run_finetuning.py with span-QA tasks: bad input fails early with a clear
error; a tiny fine-tuning run scores, writes predictions and beats the
trivial baselines."""

import json
import re
import shutil

import pytest

from electra_cli import run_finetuning
from finetune.qa.datasets import build_speaker_task
from tests.conftest import CORPUS_DIR, VOCAB_FILE
from tests.helpers.hf_reference import minilm_dir
from tests.helpers.qa_fixtures import CONTEXT, qa, write_squad

SMALL = {"model_size": "tiny", "task_names": ["squad"], "max_seq_length": 32,
         "max_query_length": 8, "doc_stride": 8, "beam_size": 4, "init_checkpoint": None}


def run(data_dir, **hparams):
  return run_finetuning.main(["--data-dir", str(data_dir), "--model-name", "m",
                              "--hparams", json.dumps({**SMALL, **hparams})])


@pytest.fixture
def data_dir(tmp_path):
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  for split in ("train", "dev"):
    write_squad(str(tmp_path / "finetuning_data" / "squad" / f"{split}.json"), [{
        "context": CONTEXT, "qas": [qa(f"{split}1", "who ran", CONTEXT, "dog ran")]}])
  return tmp_path


def assert_fails_early(data_dir, capsys, message, **hparams):
  assert run(data_dir, **hparams) == 2
  captured = capsys.readouterr()
  assert captured.err.startswith("error: ") and re.search(message, captured.err), captured.err
  assert not list((data_dir / "models").glob("m/finetuning_tfrecords/*/*.metadata"))
  assert not (data_dir / "models" / "m" / "finetuning_models").exists()


def test_a_json_file_that_is_not_squad_or_mrqa(data_dir, capsys):
  (data_dir / "finetuning_data" / "squad" / "dev.json").write_text('[{"question": "q"}]')
  assert_fails_early(data_dir, capsys, r"dev.json: no top-level \"data\" list; expected SQuAD")


def test_an_empty_dev_set(data_dir, capsys):
  write_squad(str(data_dir / "finetuning_data" / "squad" / "dev.json"), [])
  assert_fails_early(data_dir, capsys, r"dev.json has no examples \(the squad dev split is empty")


def test_all_training_answers_mismatched(data_dir, capsys):
  write_squad(str(data_dir / "finetuning_data" / "squad" / "train.json"), [{
      "context": CONTEXT, "qas": [qa("t", "who ran", CONTEXT, "dog ran", offset_shift=4)]}])
  assert_fails_early(data_dir, capsys, r"train.json has no examples .*all 1 answers were skipped")


@pytest.mark.parametrize("hparams, message", [
    ({"max_seq_length": 10}, r"max_seq_length 10 leaves no context after a question of "
                             r"max_query_length 8"),
    ({"beam_size": 40}, r"beam_size 40 exceeds max_seq_length 32"),
])
def test_windows_that_cannot_work(data_dir, capsys, hparams, message):
  assert_fails_early(data_dir, capsys, message, **hparams)


@pytest.mark.e2e
def test_a_tiny_run_trains_evaluates_and_writes_the_qa_files(data_dir):
  assert run(data_dir, num_train_epochs=1.0, train_batch_size=2, eval_batch_size=2, seed=0) == 0
  qa_dir = data_dir / "models" / "m" / "results" / "squad_qa"
  assert sorted(p.name for p in qa_dir.iterdir()) == [
      "squad_eval.json", "squad_null_odds.json", "squad_preds.json", "squad_submission.json"]
  preds = json.loads((qa_dir / "squad_preds.json").read_text())
  odds = json.loads((qa_dir / "squad_null_odds.json").read_text())
  assert list(preds) == ["dev1"]
  # Evaluating the fine-tuned directory again (restored, cached features and
  # decoding data) gives the same predictions.
  trial_dir = data_dir / "models" / "m" / "finetuning_models" / "squad_model_1"
  shutil.rmtree(qa_dir)
  assert run(data_dir, do_train=False, init_checkpoint=str(trial_dir)) == 0
  assert json.loads((qa_dir / "squad_preds.json").read_text()) == preds
  assert json.loads((qa_dir / "squad_null_odds.json").read_text()) == pytest.approx(odds)


@pytest.mark.e2e
@pytest.mark.slow
def test_finetune_the_speaker_task_beats_the_trivial_baselines(tmp_path):
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  summary = build_speaker_task(str(CORPUS_DIR), str(tmp_path / "finetuning_data" / "squad"))
  # "Always unanswerable" and "the first word" both score EM 50 (see the builder).
  assert summary.no_answer_rate("dev") == 50.0
  assert run(tmp_path, max_seq_length=64, max_query_length=16, doc_stride=32, beam_size=20,
             learning_rate=2e-3, num_train_epochs=10.0, weight_decay_rate=0.0,
             layerwise_lr_decay=0.0, seed=0) == 0
  qa_dir = tmp_path / "models" / "m" / "results" / "squad_qa"
  preds = json.loads((qa_dir / "squad_preds.json").read_text())
  null_odds = json.loads((qa_dir / "squad_null_odds.json").read_text())
  submission = json.loads((qa_dir / "squad_submission.json").read_text())
  assert len(preds) == len(null_odds) == len(submission) == summary.questions["dev"]
  assert all(submission[q] == ("" if null_odds[q] > -2.75 else preds[q]) for q in preds)
  results = json.loads((qa_dir / "squad_eval.json").read_text())
  assert results["exact"] > 60.0, results
  assert results["HasAns_exact"] > 20.0 and results["NoAns_exact"] > 60.0, results
  results_txt = (tmp_path / "models" / "m" / "results" / "squad_results.txt").read_text()
  assert results_txt.startswith("squad: exact: ")


MINILM = {"model_size": "small", "max_seq_length": 64, "max_query_length": 16,
          "doc_stride": 32, "learning_rate": 1e-4, "layerwise_lr_decay": 0.0,
          "num_train_epochs": 3.0, "seed": 0, "embedding_size": 384,
          "model_hparam_overrides": {"hidden_size": 384, "num_hidden_layers": 6,
                                     "num_attention_heads": 12, "intermediate_size": 1536}}


@pytest.mark.e2e
@pytest.mark.slow
def test_real_minilm_weights_beat_the_same_model_from_random_weights(tmp_path):
  """About 7 minutes: all-MiniLM-L6-v2 (Hugging Face import) vs random weights."""
  shutil.copyfile(VOCAB_FILE, tmp_path / "vocab.txt")
  build_speaker_task(str(CORPUS_DIR), str(tmp_path / "finetuning_data" / "squad"))
  exact = {}
  for name, init in (("minilm", str(minilm_dir())), ("random", None)):
    assert run_finetuning.main(["--data-dir", str(tmp_path), "--model-name", name, "--hparams",
                                json.dumps({**MINILM, "task_names": ["squad"],
                                            "init_checkpoint": init})]) == 0
    results = tmp_path / "models" / name / "results" / "squad_qa" / "squad_eval.json"
    exact[name] = json.loads(results.read_text())["exact"]
  assert exact["minilm"] > 85.0 and exact["minilm"] > exact["random"] + 15.0, exact
