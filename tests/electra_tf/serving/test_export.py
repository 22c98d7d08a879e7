"""SavedModel export: exported models serve without project code, equal the
in-process models, describe themselves, and refuse bad inputs clearly."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from electra_cli import export_saved_model, run_finetuning
from electra_tf.checkpoints.original import save_original_checkpoint
from electra_tf.config.model import TransformerConfig
from electra_tf.modeling.networks import ElectraNetwork
from electra_tf.serving import export
from electra_tf.serving.exportable import ExportableModel, ExportError
from electra_tf.text import tokenization
from finetune import datasets, modeling, serving
from tests.conftest import CORPUS_DIR, SENTIMENT_FILE, VOCAB_FILE
from tests.helpers import hf_reference
from tests.helpers.featurization_reference import featurize_batch, sentiment_sentences
from tests.helpers.glue_fixtures import write_task
from tests.helpers.serving_subprocess import LOAD_WITHOUT_PROJECT
from tests.helpers.trainer import train

# Exports of trained models, loaded in subprocesses and saved_model_cli.
pytestmark = pytest.mark.e2e

MAX_SEQ_LENGTH = 32
ATOL = 1e-5
FEATURES = ("input_ids", "input_mask", "segment_ids")


def long_text():
  """A Shakespeare speech of several hundred tokens (over any test length)."""
  lines = (CORPUS_DIR / "hamlet_gut.txt").read_text(encoding="utf-8").splitlines()
  return " ".join(lines[2000:2040])


def serving_batch():
  """Texts of mixed lengths: single texts and pairs, an empty text, a text far
  over max_seq_length, accents, CJK, punctuation and control characters."""
  sentences = sentiment_sentences()[0]
  texts = [sentences[0], "", long_text(), "Café naïve ΟΔΥΣΣΕΥΣ 我们 e.g.,\x00\u200b!!!",
           sentences[10], sentences[20], "Hello, World!", sentences[30]]
  texts_b = ["", "", "", "", sentences[11], long_text(), "", "x" * 250]
  return texts, texts_b


@pytest.fixture(scope="module")
def full_tokenizer():
  return tokenization.FullTokenizer(str(VOCAB_FILE))


def export_cli(*args):
  return export_saved_model.main([str(a) for a in args])


@pytest.fixture(scope="module")
def finetuned_dir(tmp_path_factory):
  """A run_finetuning trial dir: the tiny model fine-tuned (from random weights,
  one epoch) on two tasks at once, sentiment in SST-2's format (built from the
  shipped set; labels "0"/"1") and a generated STS-B set (regression, 0-5)."""
  data_dir = tmp_path_factory.mktemp("finetuning")
  shutil.copyfile(VOCAB_FILE, data_dir / "vocab.txt")
  datasets.build_sentiment_task(str(SENTIMENT_FILE), str(data_dir / "finetuning_data" / "sst"))
  write_task("sts", str(data_dir / "finetuning_data" / "sts"), n=64)
  hparams = {"model_size": "tiny", "task_names": ["sst", "sts"], "max_seq_length": 32,
             "num_train_epochs": 1.0, "learning_rate": 5e-4, "init_checkpoint": None,
             "do_eval": False, "seed": 0}
  assert run_finetuning.main(["--data-dir", str(data_dir), "--model-name", "m",
                              "--hparams", json.dumps(hparams)]) == 0
  return data_dir / "models" / "m" / "finetuning_models" / "sst,sts_model_1"


@pytest.fixture(scope="module")
def finetuned(finetuned_dir):
  """The fine-tuned model as the export loads it, with its tasks sst and sts."""
  return modeling.load_finetuned_model(str(finetuned_dir))


def task(finetuned, name):
  return next(t for t in finetuned.tasks if t.name == name)


@pytest.fixture(scope="module")
def exports(finetuned_dir, tmp_path_factory):
  """export_saved_model.py on the trial dir: EXPORT_DIR/sst/1 and EXPORT_DIR/sts/1."""
  export_dir = tmp_path_factory.mktemp("exports")
  assert export_cli("--model-dir", finetuned_dir, "--export-dir", export_dir) == 0
  assert sorted(os.listdir(export_dir)) == ["sst", "sts"]
  return {name: str(export_dir / name / "1") for name in ("sst", "sts")}


@pytest.fixture(scope="module")
def sentiment_export(exports):
  return exports["sst"]


@pytest.fixture(scope="module")
def loaded_sentiment(sentiment_export):
  return tf.saved_model.load(sentiment_export)


def in_process(finetuned, task_name, features):
  return {k: v.numpy() for k, v in finetuned.model(features, training=False)[task_name].items()}


# --- a separate process without the project -----------------------------------

SERVE_WITHOUT_PROJECT = LOAD_WITHOUT_PROJECT + r'''results = {}
outputs = model.signatures["serving_default"](text=tf.constant(inputs["text"]),
                                              text_b=tf.constant(inputs["text_b"]))
results.update({"text/" + k: v.numpy() for k, v in outputs.items()})
for prefix in ("", "short_"):
  outputs = model.signatures["serve_ids"](
      **{k: tf.constant(inputs[prefix + k]) for k in ("input_ids", "input_mask", "segment_ids")})
  results.update({prefix + "ids/" + k: v.numpy() for k, v in outputs.items()})
for asset in ("config_file", "labels_file", "vocab_file"):
  with open(getattr(model, asset).asset_path.numpy().decode(), encoding="utf-8") as f:
    results["asset/" + asset] = np.array(f.read())
np.savez(outputs_file, **results)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow_text")))
'''


def run_isolated(args, cwd):
  """Runs python with neither the repository nor PYTHONPATH on its path."""
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=300, check=False)


def test_export_serves_without_the_project_and_equals_the_in_process_model(
    finetuned, full_tokenizer, sentiment_export, tmp_path):
  texts, texts_b = serving_batch()
  features = featurize_batch(full_tokenizer, texts, texts_b, MAX_SEQ_LENGTH)
  short = featurize_batch(full_tokenizer, texts, texts_b, 12)  # serve_ids takes any L <= 32
  assert features["input_mask"][2].all() and features["segment_ids"][5].any()
  np.savez(tmp_path / "inputs.npz", text=np.array(texts), text_b=np.array(texts_b), **features,
           **{"short_" + k: v for k, v in short.items()})
  isolated = tmp_path / "elsewhere"
  isolated.mkdir()
  result = run_isolated(["-c", SERVE_WITHOUT_PROJECT, sentiment_export,
                         str(tmp_path / "inputs.npz"), str(tmp_path / "outputs.npz")], isolated)
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(result.stdout.strip().splitlines()[-1]) == []  # plain TensorFlow sufficed
  served = dict(np.load(tmp_path / "outputs.npz", allow_pickle=True))  # strings: bytes objects

  # The raw-text path featurises exactly as FullTokenizer + the original's
  # featurize, and as the fine-tuning preprocessing.
  sst = task(finetuned, "sst")
  for key, value in sst.encode(texts, texts_b).items():
    np.testing.assert_array_equal(value, features[key], err_msg=key)
  for key in FEATURES:
    np.testing.assert_array_equal(served["text/" + key], features[key], err_msg=key)
  want = in_process(finetuned, "sst", features)
  want_short = in_process(finetuned, "sst", short)
  for signature, expected in (("text/", want), ("ids/", want), ("short_ids/", want_short)):
    for key in ("logits", "probabilities"):
      np.testing.assert_allclose(served[signature + key], expected[key], atol=ATOL, rtol=0,
                                 err_msg=signature + key)
    np.testing.assert_array_equal(served[signature + "predictions"], expected["predictions"])
    labels = np.array(sst.label_list, dtype=object)
    assert [s.decode() for s in served[signature + "predicted_label"]] == list(
        labels[expected["predictions"]])
    assert served[signature + "label_names"].shape == (len(texts), 2)
    assert {tuple(row) for row in served[signature + "label_names"].tolist()} == {(b"0", b"1")}
  assert served["short_ids/logits"].shape == (len(texts), 2)
  assert not np.allclose(want["logits"], want_short["logits"], atol=1e-3)  # truncation matters

  config = json.loads(str(served["asset/config_file"]))
  assert config["kind"] == "classification" and config["name"] == "sst"
  assert config["label_names"] == ["0", "1"]
  assert (config["max_seq_length"], config["do_lower_case"], config["version"]) == (32, True, 1)
  assert config["encoder"]["hidden_size"] == finetuned.model.bert_config.hidden_size
  assert config["model"]["finetuning"] == finetuned.config.to_dict()  # the run's config
  assert config["model"]["finetuning"]["task_names"] == ["sst", "sts"]
  assert str(served["asset/labels_file"]) == "0\n1\n"
  assert str(served["asset/vocab_file"]) == VOCAB_FILE.read_text(encoding="utf-8")


def test_regression_export(finetuned, full_tokenizer, exports):
  loaded = tf.saved_model.load(exports["sts"])
  texts, texts_b = serving_batch()
  features = featurize_batch(full_tokenizer, texts, texts_b, MAX_SEQ_LENGTH)
  want = in_process(finetuned, "sts", features)
  served = loaded.signatures["serving_default"](text=tf.constant(texts),
                                                 text_b=tf.constant(texts_b))
  assert set(served) == {"predictions", "score", *FEATURES}
  for key in ("predictions", "score"):
    np.testing.assert_allclose(served[key], want[key], atol=ATOL, rtol=0)
  # STS-B's scale: the original's normalisation (y - 0) / 5, inverted.
  np.testing.assert_allclose(served["score"], 5 * served["predictions"].numpy(), atol=1e-5)
  assert not hasattr(loaded, "labels_file")


# --- saved_model_cli -----------------------------------------------------------

SAVED_MODEL_CLI = pathlib.Path(sys.executable).parent / "saved_model_cli"


def saved_model_cli(*args, cwd):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  result = subprocess.run([str(SAVED_MODEL_CLI), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def parse_signatures(show_output):
  """{signature: {"inputs"|"outputs": {name: (dtype, shape)}}} from `show --all`."""
  signatures = {}
  for block in re.split(r"\nsignature_def\['", show_output)[1:]:
    name = block[:block.index("'")]
    entries = {"inputs": {}, "outputs": {}}
    for kind, key, dtype, shape in re.findall(
        r"(inputs|outputs)\['([^']+)'\] tensor_info:\s+dtype: (\w+)\s+shape: ([^\n]+)", block):
      entries[kind][key] = (dtype, shape.strip())
    signatures[name] = entries
  return signatures


def test_saved_model_cli_shows_the_documented_signatures(sentiment_export, tmp_path):
  signatures = parse_signatures(saved_model_cli("show", "--dir", sentiment_export, "--all",
                                                cwd=tmp_path))
  ids = {"input_ids": ("DT_INT32", "(-1, -1)"), "input_mask": ("DT_INT32", "(-1, -1)"),
         "segment_ids": ("DT_INT32", "(-1, -1)")}
  classifier = {"logits": ("DT_FLOAT", "(-1, 2)"), "probabilities": ("DT_FLOAT", "(-1, 2)"),
                "predictions": ("DT_INT32", "(-1)"), "predicted_label": ("DT_STRING", "(-1)"),
                "label_names": ("DT_STRING", "(-1, 2)")}
  assert signatures["serving_default"] == {
      "inputs": {"text": ("DT_STRING", "(-1)"), "text_b": ("DT_STRING", "(-1)")},
      "outputs": {**classifier, **{k: ("DT_INT32", "(-1, 32)") for k in FEATURES}}}
  assert signatures["serve_ids"] == {"inputs": ids, "outputs": classifier}


def test_saved_model_cli_runs_the_raw_text_signature(finetuned, full_tokenizer, sentiment_export,
                                                     tmp_path):
  texts = ["a great product, works as advertised", "caf\u00e9", "", "terrible."]
  texts_b = ["", "second text", "", ""]
  outdir = tmp_path / "cli_outputs"
  saved_model_cli("run", "--dir", sentiment_export, "--tag_set", "serve", "--signature_def",
                  "serving_default", "--input_exprs", f"text={texts!r};text_b={texts_b!r}",
                  "--outdir", str(outdir), cwd=tmp_path)
  features = featurize_batch(full_tokenizer, texts, texts_b, MAX_SEQ_LENGTH)
  want = in_process(finetuned, "sst", features)
  for key in FEATURES:
    np.testing.assert_array_equal(np.load(outdir / f"{key}.npy"), features[key])
  np.testing.assert_allclose(np.load(outdir / "probabilities.npy"), want["probabilities"],
                             atol=ATOL, rtol=0)
  labels = np.load(outdir / "predicted_label.npy", allow_pickle=True)
  assert [label.decode() for label in labels] == [
      task(finetuned, "sst").label_list[p] for p in want["predictions"]]


# --- bad inputs ----------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda f: {**f, "input_mask": f["input_mask"][:, :5]},
     "serve_ids: input_mask must have the shape of input_ids"),
    (lambda f: {**f, "segment_ids": f["segment_ids"][:1]},
     "serve_ids: segment_ids must have the shape of input_ids"),
    (lambda f: {k: tf.concat([v, v[:, :1]], axis=1) for k, v in f.items()},
     "serve_ids: input_ids is longer than max_seq_length 32"),
    (lambda f: {k: v[:, :0] for k, v in f.items()},
     r"serve_ids: input_ids must hold at least one position"),
    (lambda f: {**f, "input_ids": f["input_ids"] + 30522},
     r"serve_ids: input_ids must be in \[0, vocab_size=30522\)"),
    (lambda f: {**f, "segment_ids": f["segment_ids"] - 1},
     r"serve_ids: segment_ids must be in \[0, 2\)"),
    (lambda f: {**f, "input_mask": f["input_mask"] * 2},
     r"serve_ids: input_mask must be 0 \(padding\) or 1"),
], ids=["mask_shape", "segment_batch", "too_long", "empty", "id_range", "segment_range",
        "mask_values"])
def test_serve_ids_checks_its_inputs(loaded_sentiment, full_tokenizer, change, message):
  features = {k: tf.constant(v) for k, v in
              featurize_batch(full_tokenizer, ["a b", "c"], ["", ""], MAX_SEQ_LENGTH).items()}
  loaded_sentiment.signatures["serve_ids"](**features)
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    loaded_sentiment.signatures["serve_ids"](**change(features))


def test_serving_default_checks_batch_sizes(loaded_sentiment):
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="text and text_b must have the same batch size"):
    loaded_sentiment.signatures["serving_default"](text=tf.constant(["a", "b"]),
                                                   text_b=tf.constant([""]))


def test_refusals_before_any_work(finetuned, tmp_path):
  exportable, = serving.task_exportables(finetuned, ["sst"])
  export_dir = tmp_path / "exports"
  (export_dir / "3").mkdir(parents=True)
  (export_dir / "3" / "keep.txt").write_text("old")
  with pytest.raises(ExportError, match="3 already exists and is not empty"):
    export.export_saved_model(exportable, str(export_dir), version=3)
  assert os.listdir(export_dir / "3") == ["keep.txt"]
  assert export.resolve_version(str(export_dir), None, False) == 4
  with pytest.raises(ExportError, match="non-negative"):
    export.resolve_version(str(export_dir), -1, False)
  for change, message in [
      (dict(label_names=["a", "a"]), "label names must be distinct"),
      (dict(outputs=()), "declares no outputs"),
      (dict(max_seq_length=513), r"max_seq_length 513 must be in \[3, max_position_embeddings"),
      (dict(variables=[]), "has no variables"),
  ]:
    with pytest.raises(ExportError, match=message):
      export.export_saved_model(ExportableModel(**{**vars(exportable), **change}),
                                 str(tmp_path / "never"))
  small_vocab = tmp_path / "vocab.txt"
  small_vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n", encoding="utf-8")
  with pytest.raises(ExportError, match="has 4 tokens but the model's vocab_size is 30522"):
    export.export_saved_model(ExportableModel(
        **{**vars(exportable), "vocab_file": str(small_vocab)}), str(tmp_path / "never"))
  assert not (tmp_path / "never").exists()


def test_a_failed_export_leaves_nothing_behind(finetuned, tmp_path):
  exportable, = serving.task_exportables(finetuned, ["sst"])
  only_logits = lambda features: {"logits": exportable.forward(features)["logits"]}
  broken = ExportableModel(**{**vars(exportable), "forward": only_logits})
  with pytest.raises(ExportError, match=(r"forward lacks \['probabilities', 'predictions', "
                                         r"'predicted_label', 'label_names'\]")):
    export.export_saved_model(broken, str(tmp_path / "exports"))
  assert os.listdir(tmp_path / "exports") == []


def test_task_exportable_refuses_other_task_kinds(finetuned):
  span = type("Task", (), {"name": "squad", "kind": "span", "label_list": (),
                           "serving_output_names": ()})()
  with pytest.raises(ExportError, match="'squad' \\(a 'span' task\\) declares no serving outputs"):
    serving.task_exportable(finetuned.model, span, encoder_config=finetuned.model.bert_config,
                            vocab_file=str(VOCAB_FILE), max_seq_length=32, do_lower_case=True)


def test_finetuned_export_cli_chooses_tasks_and_refuses_before_loading(finetuned_dir, tmp_path,
                                                                       capsys):
  exports = tmp_path / "exports"
  common = ["--model-dir", finetuned_dir, "--export-dir", exports]
  assert export_cli(*common, "--task", "sts") == 0
  assert os.listdir(exports) == ["sts"] and os.listdir(exports / "sts") == ["1"]
  for extra, message in [
      (["--task", "rte"], "--task ['rte']: the model's tasks are ['sst', 'sts']"),
      (["--max-seq-length", "64"], "--max-seq-length: a fine-tuned model serves with the vocab, "
                                   "casing and max_seq_length of its fine-tuning run"),
      (["--version", "1"], "1 already exists and is not empty"),  # sts/1; sst/1 is free
  ]:
    capsys.readouterr()
    assert export_cli(*common, *extra) == 2, extra
    assert message in capsys.readouterr().err
  assert os.listdir(exports) == ["sts"]  # nothing exported for sst either
  assert export_cli("--model-dir", finetuned_dir.parent.parent, "--export-dir", exports,
                    "--task", "sst") == 2  # a pre-training dir has no tasks
  assert "--task applies to fine-tuned models" in capsys.readouterr().err


# --- the pre-trained discriminator -----------------------------------------------

@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
  """A run_pretraining model dir (tiny model, 3 steps), the same weights as an
  original-format checkpoint (the released layout), and as a Hugging Face
  ElectraForPreTraining directory."""
  root = tmp_path_factory.mktemp("pretrained")
  trainer, _ = train(root / "run", max_seq_length=MAX_SEQ_LENGTH)
  original = root / "original"
  prefix = save_original_checkpoint(trainer.model.named_variables(), str(original / "model.ckpt"))
  shutil.copyfile(VOCAB_FILE, original / "vocab.txt")
  disc, _ = hf_reference.hf_load(
      prefix, hf_reference.hf_parameters(30522, 64, 128, 2, "discriminator"), "discriminator")
  hf_dir = hf_reference.write_hf_dir(
      str(root / "hf"), disc,
      hf_reference.electra_hf_config(30522, 64, 128, 2, 2, "ElectraForPreTraining"))
  return trainer.model, {"run": root / "run", "original": original, "hf": pathlib.Path(hf_dir)}


@pytest.mark.parametrize("source", ["run", "original", "hf"])
def test_discriminator_export_equals_the_pretrained_discriminator(pretrained, full_tokenizer,
                                                                  source, tmp_path):
  model, sources = pretrained
  args = ["--model-dir", sources[source], "--export-dir", tmp_path / "exports"]
  if source != "run":  # only a run records its max_seq_length (and vocab file)
    args += ["--max-seq-length", MAX_SEQ_LENGTH]
  if source == "hf":
    args += ["--vocab-file", VOCAB_FILE]
  assert export_cli(*args) == 0
  loaded = tf.saved_model.load(str(tmp_path / "exports" / "1"))
  texts, texts_b = serving_batch()
  features = featurize_batch(full_tokenizer, texts, texts_b, MAX_SEQ_LENGTH)
  served = loaded.signatures["serving_default"](text=tf.constant(texts),
                                                 text_b=tf.constant(texts_b))
  sequence = model.discriminator(*(tf.constant(features[k]) for k in FEATURES))
  logits = model.discriminator_head(sequence)
  np.testing.assert_array_equal(served["input_ids"], features["input_ids"])
  np.testing.assert_allclose(served["disc_logits"], logits, atol=ATOL, rtol=0)
  np.testing.assert_allclose(served["disc_probs"], tf.sigmoid(logits), atol=ATOL, rtol=0)
  np.testing.assert_allclose(served["sequence_output"], sequence, atol=ATOL, rtol=0)
  ids = loaded.signatures["serve_ids"](**{k: tf.constant(v) for k, v in features.items()})
  np.testing.assert_allclose(ids["disc_probs"], served["disc_probs"], atol=ATOL, rtol=0)
  with open(loaded.config_file.asset_path.numpy().decode(), encoding="utf-8") as f:
    config = json.load(f)
  assert (config["kind"], config["max_seq_length"]) == ("discriminator", MAX_SEQ_LENGTH)
  if source == "run":  # the run's resolved config travels with the model
    assert config["model"]["pretraining"]["model_size"] == "tiny"


def test_versions_overwrite_and_refusals(pretrained, tmp_path, capsys):
  _, sources = pretrained
  exports = tmp_path / "exports"
  common = ["--model-dir", sources["original"], "--export-dir", exports]
  assert export_cli(*common) == 0
  assert export_cli(*common) == 0
  assert sorted(os.listdir(exports)) == ["1", "2"]  # the next free version; no leftovers
  first = (exports / "1" / "saved_model.pb").read_bytes()
  capsys.readouterr()
  assert export_cli(*common, "--version", "1") == 2
  assert "already exists and is not empty" in capsys.readouterr().err
  assert (exports / "1" / "saved_model.pb").read_bytes() == first
  assert export_cli(*common, "--version", "1", "--overwrite", "--max-seq-length", "16") == 0
  assert sorted(os.listdir(exports)) == ["1", "2"]
  with open(exports / "1" / "assets" / "config.json", encoding="utf-8") as f:
    assert json.load(f)["max_seq_length"] == 16


@pytest.mark.parametrize("model_in_export_dir", ["1", "."])
def test_overwrite_refuses_an_export_dir_holding_the_model(pretrained, tmp_path, capsys,
                                                            model_in_export_dir):
  _, sources = pretrained
  exports = tmp_path / "exports"
  model_dir = exports / model_in_export_dir  # exports/1 would be version 1's directory
  shutil.copytree(sources["original"], model_dir, dirs_exist_ok=True)
  before = sorted(os.listdir(model_dir))
  assert export_cli("--model-dir", model_dir, "--export-dir", exports, "--version", "1",
                    "--overwrite") == 2
  relation = "contains" if model_in_export_dir == "1" else "is"
  assert f"{relation} --model-dir" in capsys.readouterr().err
  assert sorted(os.listdir(model_dir)) == before


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "does not exist"),
    (lambda d: d.mkdir(), "no checkpoint in directory"),
    (lambda d: (d.mkdir(), (d / "pretrain_config.json").write_text(json.dumps(
        {"model_size": "tiny"}))), "no checkpoint in directory"),
], ids=["missing_dir", "empty_dir", "config_without_checkpoint"])
def test_export_refuses_a_model_dir_without_checkpoint(setup, message, tmp_path, capsys):
  model_dir = tmp_path / "model"
  setup(model_dir)
  assert export_cli("--model-dir", model_dir, "--export-dir", tmp_path / "exports") == 2
  assert message in capsys.readouterr().err
  assert not (tmp_path / "exports").exists()


def test_a_network_without_discriminator_head_is_refused(tmp_path, capsys):
  encoder = ElectraNetwork(TransformerConfig(vocab_size=30522, hidden_size=64,
                                             num_hidden_layers=1, num_attention_heads=1,
                                             intermediate_size=64), "electra", head=None)
  encoder.build_variables()
  save_original_checkpoint(encoder.named_variables(), str(tmp_path / "bert" / "model.ckpt"))
  args = ["--model-dir", tmp_path / "bert", "--export-dir", tmp_path / "exports",
          "--vocab-file", VOCAB_FILE]
  assert export_cli(*args) == 2
  assert "head None, not a discriminator" in capsys.readouterr().err
  assert not (tmp_path / "exports").exists()
