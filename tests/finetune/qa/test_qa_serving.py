"""Serving span QA: the in-graph windows equal the fine-tuning featurisation;
an exported fine-tuned QA model, loaded in a process without the project,
answers raw (question, context) strings as the in-process scorer does."""

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from electra_cli import export_saved_model, run_finetuning
from electra_tf.serving.exportable import ServingContext
from electra_tf.text import tokenization
from electra_tf.text.ingraph import InGraphTokenizer
from finetune import modeling
from finetune.qa import decoding, serving
from finetune.qa.datasets import build_speaker_task
from finetune.qa.examples import QAExample, split_context
from finetune.qa.featurization import QAFeaturizer
from finetune.qa.head import SpanQAHead
from finetune.qa.tasks import _DECODED_OUTPUTS, SpanQAScorer
from tests.conftest import CORPUS_DIR, VOCAB_FILE
from tests.helpers.serving_subprocess import LOAD_WITHOUT_PROJECT

SAVED_MODEL_CLI = pathlib.Path(sys.executable).parent / "saved_model_cli"

MAX_SEQ_LENGTH, MAX_QUERY_LENGTH, DOC_STRIDE = 32, 8, 8

CONTEXTS = [
    "the cat sat on the mat",
    # Over many windows: punctuation inside doc tokens, two spaces, a tab,
    # accents (stripped to the same length), a control character (deleted).
    "Steve Smith's  dog\tran (1895-1943). Café naïve e.g.,\x00x ΟΔΥΣΣΕΥΣ 我们 " * 6,
    "",  # no doc tokens: no windows, as the original
    "one",
    "   spaces   around   ",
]
QUESTIONS = ["who sat", "whose dog ran where and when and why and how and what", "empty",
             "x", "where"]


@pytest.fixture(scope="module")
def full_tokenizer():
  return tokenization.FullTokenizer(str(VOCAB_FILE))


@pytest.fixture(scope="module")
def serving_context(full_tokenizer):
  vocab = full_tokenizer.vocab
  return ServingContext(InGraphTokenizer(str(VOCAB_FILE)), vocab["[CLS]"], vocab["[SEP]"],
                        MAX_SEQ_LENGTH, run=None)


def test_doc_tokens_and_offsets_equal_the_readers_split():
  doc = serving.doc_tokens(tf.constant(CONTEXTS))
  splits = doc["token_splits"].numpy()
  tokens = [t.decode() for t in doc["tokens"].numpy()]
  for i, context in enumerate(CONTEXTS):
    want, _ = split_context(context)
    got = tokens[splits[i]:splits[i + 1]]
    assert got == want
    starts = doc["token_start"].numpy()[splits[i]:splits[i + 1]]
    ends = doc["token_end"].numpy()[splits[i]:splits[i + 1]]
    assert [context[a:b] for a, b in zip(starts, ends)] == want


def test_piece_offsets_cover_each_pieces_characters(serving_context):
  doc = serving.doc_tokens(tf.constant(["Steve Smith's (1895-1943). Café e.g.,\x00x"]))
  pieces = serving._pieces(serving_context, doc)  # pylint: disable=protected-access
  context = "Steve Smith's (1895-1943). Café e.g.,\x00x"
  texts = [context[a:b] for a, b in zip(pieces["start"].numpy(), pieces["end"].numpy())]
  assert texts[:12] == ["Steve", "Smith", "'", "s", "(", "1895", "-", "1943", ")", ".", "Café",
                        "e"]
  # "e.g.,\x00x" normalises without the control character: it is misaligned,
  # so its pieces fall back to the whole doc token.
  assert pieces["token_misaligned"].numpy().tolist() == [False, False, False, False, True]


def test_windows_and_max_context_equal_the_featurizer(full_tokenizer, serving_context):
  inputs = serving.QuestionContextInputs(serving.QAServingParams(
      MAX_QUERY_LENGTH, DOC_STRIDE, n_best_size=20, max_answer_length=30))
  doc = serving.doc_tokens(tf.constant(CONTEXTS))
  pieces = serving._pieces(serving_context, doc)  # pylint: disable=protected-access
  query = serving_context.tokenizer.tokenize(tf.constant(QUESTIONS))[:, :MAX_QUERY_LENGTH]
  windows = inputs._windows(serving_context, query, pieces)  # pylint: disable=protected-access
  examples = [QAExample("squad", i, str(i), question, split_context(context)[0])
              for i, (question, context) in enumerate(zip(QUESTIONS, CONTEXTS))]
  features, data = QAFeaturizer(full_tokenizer, MAX_SEQ_LENGTH, MAX_QUERY_LENGTH,
                                DOC_STRIDE).featurize(examples, False, "squad", 0)
  assert len(data.windows) > 10 and {w.example for w in data.windows} == {0, 1, 3, 4}
  for key in ("input_ids", "input_mask", "segment_ids"):
    np.testing.assert_array_equal(windows[key].numpy(), features[key], err_msg=key)
  max_context = [[w.is_max_context(p) for p in range(MAX_SEQ_LENGTH)] for w in data.windows]
  np.testing.assert_array_equal(windows["max_context"].numpy(), max_context)
  assert windows["example"].numpy().tolist() == [w.example for w in data.windows]


def random_model(head, vocab_size, width=16, seed=0):
  """A fixed random "encoder" (token + position vectors) under a real QA head:
  int32 [W, L] features -> the head's decoding outputs."""
  rng = np.random.RandomState(seed)
  tokens = tf.constant(rng.normal(size=[vocab_size, width]), tf.float32)
  positions = tf.constant(rng.normal(size=[MAX_SEQ_LENGTH, width]), tf.float32)

  def run(features):
    hidden = tf.gather(tokens, features["input_ids"]) + positions[:tf.shape(
        features["input_ids"])[1]]
    outputs = head(hidden, features, training=False)
    return {key: outputs[key] for key in _DECODED_OUTPUTS}
  return run


DECODING_CONTEXTS = CONTEXTS + [
    "Steve Smith's dog ran far, far away (to 1943) with qwxzvbnmqwrtp and Zürich friends. " * 3,
    "The the THE tHe cat's cats' ca-t's. " * 4,
]
DECODING_QUESTIONS = QUESTIONS + ["who ran", "the cat"]


def normalised(text):
  """Case and whitespace aside: what the in-graph text may differ in (see
  `finetune.qa.serving`)."""
  return " ".join(text.lower().split())


@pytest.mark.parametrize("joint, classifier, seed", [(True, True, 0), (True, True, 1),
                                                     (False, False, 2)])
def test_in_graph_decoding_equals_the_decoder(full_tokenizer, serving_context, joint,
                                              classifier, seed):
  params = serving.QAServingParams(MAX_QUERY_LENGTH, DOC_STRIDE, n_best_size=8,
                                   max_answer_length=4, joint_prediction=joint,
                                   answerable_classifier=classifier)
  head = SpanQAHead("squad", beam_size=8, joint_prediction=joint,
                    answerable_classifier=classifier)
  run = random_model(head, len(full_tokenizer.vocab), seed=seed)
  served = serving.QuestionContextInputs(params).serve(
      dataclasses.replace(serving_context, run=run), question=tf.constant(DECODING_QUESTIONS),
      context=tf.constant(DECODING_CONTEXTS))
  examples = [QAExample("squad", i, str(i), question, split_context(context)[0])
              for i, (question, context) in enumerate(zip(DECODING_QUESTIONS,
                                                           DECODING_CONTEXTS))]
  features, data = QAFeaturizer(full_tokenizer, MAX_SEQ_LENGTH, MAX_QUERY_LENGTH,
                                DOC_STRIDE).featurize(examples, False, "squad", 0)
  outputs = {k: v.numpy() for k, v in run({k: tf.constant(features[k]) for k in (
      "input_ids", "input_mask", "segment_ids")}).items()}
  results = {eid: {k: v[i] for k, v in outputs.items()}
             for i, eid in enumerate(features["squad_eid"].tolist())}
  want = decoding.decode(data, results, decoding.DecodingParams(
      8, 4, joint, classifier, True, v2=True))
  texts = [t.decode() for t in served["answer_text"].numpy()]
  starts, ends = served["answer_start"].numpy(), served["answer_end"].numpy()
  exact = 0
  for i, context in enumerate(DECODING_CONTEXTS):
    expected = want.answers[str(i)]
    if expected == decoding.NO_ANSWER_TEXT:  # no valid span (or no windows)
      assert (texts[i], starts[i], ends[i]) == ("", -1, -1)
      assert served["score"].numpy()[i] == 0
      continue
    assert context[starts[i]:ends[i]] == texts[i]
    assert normalised(texts[i]) == normalised(expected), (i, texts[i], expected)
    exact += texts[i] == expected
    _, _, start_score, end_score = want.nbest[str(i)][0]
    assert served["score"].numpy()[i] == pytest.approx(start_score + end_score, abs=1e-5)
  assert exact >= len(DECODING_CONTEXTS) - 3
  np.testing.assert_allclose(served["null_odds"].numpy(),
                             [want.null_odds[str(i)] for i in range(len(DECODING_CONTEXTS))],
                             rtol=1e-6, atol=1e-5)
  assert served["null_odds"].numpy()[2] == serving.NO_WINDOWS_NULL_SCORE  # empty context


# --- an exported fine-tuned model in a process without the project ------------------

QA_HPARAMS = {"model_size": "tiny", "task_names": ["squad"], "max_seq_length": 64,
              "max_query_length": 16, "doc_stride": 32, "beam_size": 20,
              "learning_rate": 2e-3, "num_train_epochs": 0.5, "init_checkpoint": None,
              "do_eval": False, "seed": 0}


def add_long_contexts(dev_file, count=6, joined=12):
  """Appends `count` contexts of `joined` consecutive dev contexts each
  (several hundred WordPieces, many windows at max_seq_length 64), with a
  question each, to the dev set."""
  with open(dev_file, encoding="utf-8") as f:
    dataset = json.load(f)
  paragraphs = [p for article in dataset["data"] for p in article["paragraphs"]]
  added = []
  for i in range(count):
    parts = paragraphs[i * joined:(i + 1) * joined]
    added.append({"context": " ".join(p["context"] for p in parts), "qas": [
        {"id": f"long{i}", "question": parts[0]["qas"][0]["question"], "answers": []}]})
  dataset["data"].append({"title": "long", "paragraphs": added})
  with open(dev_file, "w", encoding="utf-8") as f:
    json.dump(dataset, f)


@pytest.fixture(scope="module")
def qa_trial(tmp_path_factory):
  """A tiny model fine-tuned (half an epoch) on the speaker task, whose dev set
  also holds contexts many times max_seq_length."""
  data_dir = tmp_path_factory.mktemp("qa_serving")
  shutil.copyfile(VOCAB_FILE, data_dir / "vocab.txt")
  task_dir = data_dir / "finetuning_data" / "squad"
  build_speaker_task(str(CORPUS_DIR), str(task_dir))
  add_long_contexts(str(task_dir / "dev.json"))
  assert run_finetuning.main(["--data-dir", str(data_dir), "--model-name", "m",
                              "--hparams", json.dumps(QA_HPARAMS)]) == 0
  return data_dir / "models" / "m" / "finetuning_models" / "squad_model_1"


def in_process_dev(trial_dir):
  """The dev questions and the in-process scorer's predictions on them."""
  finetuned = modeling.load_finetuned_model(str(trial_dir))
  task = finetuned.tasks[0]
  examples = task.get_examples("dev")
  features, metadata = task.featurize_with_metadata(examples, is_training=False)
  scorer = SpanQAScorer(task, task.get_split_scorer("dev", metadata).data)
  for begin in range(0, len(features["input_ids"]), 64):
    batch = {k: tf.constant(v[begin:begin + 64]) for k, v in features.items()}
    outputs = finetuned.model(batch, training=False)[task.name]
    scorer.update({"eid": batch["squad_eid"].numpy(),
                   **{k: v.numpy() for k, v in outputs.items()}})
  return examples, scorer.data, scorer.decode()


SERVE_QA_WITHOUT_PROJECT = LOAD_WITHOUT_PROJECT + r'''results = {}
for begin in range(0, len(inputs["question"]), 50):
  outputs = model.signatures["serving_default"](
      question=tf.constant(inputs["question"][begin:begin + 50]),
      context=tf.constant(inputs["context"][begin:begin + 50]))
  for key, value in outputs.items():
    results.setdefault("text/" + key, []).append(value.numpy())
outputs = model.signatures["serve_ids"](
    **{k: tf.constant(inputs[k]) for k in ("input_ids", "input_mask", "segment_ids")})
results.update({"ids/" + k: [v.numpy()] for k, v in outputs.items()})
np.savez(outputs_file, **{k: np.concatenate(v) for k, v in results.items()})
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow_text")))
'''


def run_isolated(args, cwd):
  """Runs python with neither the repository nor PYTHONPATH on its path."""
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def qa_export(qa_trial, tmp_path_factory):
  export_dir = tmp_path_factory.mktemp("qa_exports")
  assert export_saved_model.main(["--model-dir", str(qa_trial),
                                  "--export-dir", str(export_dir)]) == 0
  return export_dir / "squad" / "1"


@pytest.fixture(scope="module")
def dev_predictions(qa_trial):
  return in_process_dev(qa_trial)


def dev_contexts(trial_dir, examples):
  """The raw context strings of the dev questions."""
  with open(trial_dir.parents[3] / "finetuning_data" / "squad" / "dev.json",
            encoding="utf-8") as f:
    raw_contexts = {qa["id"]: p["context"] for article in json.load(f)["data"]
                    for p in article["paragraphs"] for qa in p["qas"]}
  return [raw_contexts[e.qas_id] for e in examples]


@pytest.mark.e2e
def test_exported_qa_model_answers_as_the_in_process_scorer(qa_trial, qa_export,
                                                            dev_predictions, tmp_path):
  examples, data, predictions = dev_predictions
  windows_per_example = np.bincount([w.example for w in data.windows], minlength=len(examples))
  assert windows_per_example.min() == 1 and windows_per_example.max() >= 10
  contexts = dev_contexts(qa_trial, examples)
  finetuned_features = featurize_first_windows(qa_trial, examples)
  np.savez(tmp_path / "inputs.npz", question=np.array([e.question_text for e in examples]),
           context=np.array(contexts), **finetuned_features["inputs"])
  isolated = tmp_path / "elsewhere"
  isolated.mkdir()
  result = run_isolated(["-c", SERVE_QA_WITHOUT_PROJECT, str(qa_export),
                         str(tmp_path / "inputs.npz"), str(tmp_path / "outputs.npz")], isolated)
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(result.stdout.strip().splitlines()[-1]) == []  # plain TensorFlow sufficed
  served = dict(np.load(tmp_path / "outputs.npz", allow_pickle=True))

  texts = [t.decode() for t in served["text/answer_text"]]
  starts, ends = served["text/answer_start"], served["text/answer_end"]
  np.testing.assert_array_equal(served["text/num_windows"], windows_per_example)
  for i, example in enumerate(examples):
    qid = example.qas_id
    assert texts[i] == predictions.answers[qid], (qid, texts[i], predictions.answers[qid])
    assert contexts[i][starts[i]:ends[i]] == texts[i]
    _, _, start_score, end_score = predictions.nbest[qid][0]
    assert served["text/score"][i] == pytest.approx(start_score + end_score, abs=1e-4)
  null_odds = np.array([predictions.null_odds[e.qas_id] for e in examples])
  np.testing.assert_allclose(served["text/null_odds"], null_odds, atol=1e-4)
  np.testing.assert_allclose(served["text/null_probability"], 1 / (1 + np.exp(-null_odds)),
                             atol=1e-5)
  assert len(set(texts)) > 1 and np.ptp(null_odds) > 0  # not a constant model
  for key, want in finetuned_features["outputs"].items():
    np.testing.assert_allclose(served["ids/" + key], want, atol=1e-4, err_msg=key)


def featurize_first_windows(trial_dir, examples, count=8):
  """The fine-tuning features of the first `count` windows and the model's
  outputs on them (for `serve_ids`)."""
  finetuned = modeling.load_finetuned_model(str(trial_dir))
  task = finetuned.tasks[0]
  features, _ = task.featurize_with_metadata(examples[:count], is_training=False)
  inputs = {k: features[k][:count] for k in ("input_ids", "input_mask", "segment_ids")}
  outputs = finetuned.model({k: tf.constant(v) for k, v in inputs.items()},
                            training=False)[task.name]
  return {"inputs": inputs, "outputs": {k: outputs[k].numpy() for k in task.serving_output_names}}


@pytest.mark.e2e
def test_saved_model_cli_runs_the_qa_signature(qa_trial, qa_export, dev_predictions, tmp_path):
  examples, data, predictions = dev_predictions
  contexts = dev_contexts(qa_trial, examples)
  chosen = [0, len(examples) - 1]  # a short context and one of many windows
  questions = [examples[i].question_text for i in chosen]
  # Files, not --input_exprs: that flag splits at the contexts' semicolons.
  for name, values in (("question", questions), ("context", [contexts[i] for i in chosen])):
    np.save(tmp_path / f"{name}.npy", np.array([v.encode("utf-8") for v in values]))
  outdir = tmp_path / "cli_outputs"
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  result = subprocess.run(
      [str(SAVED_MODEL_CLI), "run", "--dir", str(qa_export), "--tag_set", "serve",
       "--signature_def", "serving_default", "--inputs",
       f"question={tmp_path / 'question.npy'};context={tmp_path / 'context.npy'}",
       "--outdir", str(outdir)], cwd=tmp_path, env=env, capture_output=True, text=True,
      timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  answers = np.load(outdir / "answer_text.npy", allow_pickle=True)
  assert [a.decode() for a in answers] == [predictions.answers[examples[i].qas_id]
                                           for i in chosen]
  assert np.load(outdir / "num_windows.npy").tolist()[1] >= 10


@pytest.mark.e2e
def test_qa_signature_checks_batch_sizes_and_serves_empty_batches(qa_export):
  model = tf.saved_model.load(str(qa_export))
  serve = model.signatures["serving_default"]
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="question and context must have the same batch size"):
    serve(question=tf.constant(["who", "what"]), context=tf.constant(["a b"]))
  empty = serve(question=tf.constant([], tf.string), context=tf.constant([], tf.string))
  assert empty["answer_text"].shape == (0,) and empty["null_probability"].shape == (0,)
  blank = serve(question=tf.constant(["who"]), context=tf.constant([" \n "]))
  assert (blank["answer_text"].numpy()[0], int(blank["answer_start"][0]),
          int(blank["num_windows"][0])) == (b"", -1, 0)


def test_dynamic_inputs_shorter_than_the_beam_keep_their_candidates():
  """`serve_ids` takes any L: an input shorter than beam_size gets the same
  logits and the same top candidates as that input padded to a longer L, and
  the candidates beyond its own positions point past it (index >= L)."""
  beam, width, short, long = 8, 16, 5, 12
  head = SpanQAHead("squad", beam_size=beam)
  rng = np.random.RandomState(0)
  hidden = rng.normal(size=[2, long, width]).astype(np.float32)
  segment_ids = np.array([[0, 0, 1, 1, 1] + [0] * 7] * 2, np.int32)
  input_mask = np.array([[1] * short + [0] * (long - short)] * 2, np.int32)
  valid = 4  # [CLS] and the three context positions

  @tf.function(input_signature=[tf.TensorSpec([None, None, width]),
                                tf.TensorSpec([None, None], tf.int32),
                                tf.TensorSpec([None, None], tf.int32)])
  def run(hidden, input_mask, segment_ids):
    return head(hidden, {"input_mask": input_mask, "segment_ids": segment_ids},
                training=False)

  cut = run(hidden[:, :short], input_mask[:, :short], segment_ids[:, :short])
  padded = run(hidden, input_mask, segment_ids)
  assert cut["start_logits"].shape == [2, short] and cut["start_top_index"].shape == [2, beam]
  np.testing.assert_allclose(cut["start_logits"], padded["start_logits"][:, :short], atol=1e-5)
  np.testing.assert_allclose(cut["answerable_logit"], padded["answerable_logit"], atol=1e-5)
  for name in ("start_top_index", "start_top_log_probs"):
    np.testing.assert_allclose(cut[name][:, :valid], padded[name][:, :valid], atol=1e-5)
  for name in ("end_top_index", "end_top_log_probs"):
    np.testing.assert_allclose(cut[name][:, :valid, :valid], padded[name][:, :valid, :valid],
                               atol=1e-5)
  assert (cut["start_top_log_probs"].numpy()[:, valid:] < -100).all()  # masked positions
  assert cut["start_top_index"].numpy().max() >= short  # candidates on the padding
