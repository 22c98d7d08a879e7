"""The pays-off experiment's bookkeeping: equal FLOPs, best grid points, the table."""

import importlib.util
import json
import pickle

import pytest

from electra_tf.config.pretraining import PretrainingConfig
from electra_tf.pretraining import flops
from tests.conftest import ROOT

_SPEC = importlib.util.spec_from_file_location(
    "pretraining_pays_off", ROOT / "bench" / "pretraining_pays_off.py")
pays_off = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(pays_off)


def shipped_hparams():
  return json.loads((ROOT / "configs" / "pretrain_cpu.json").read_text())


def test_mlm_gets_the_steps_electra_s_flops_buy():
  hparams = shipped_hparams()
  electra = pays_off.objective_hparams(hparams, "electra")
  mlm = pays_off.objective_hparams(hparams, "mlm")
  assert electra == hparams
  assert mlm["electra_objective"] is False
  assert mlm["num_train_steps"] > hparams["num_train_steps"]  # MLM steps are cheaper
  electra_flops = flops.pretraining_flops(PretrainingConfig.create("m", "/tmp", **electra))
  mlm_flops = flops.pretraining_flops(PretrainingConfig.create("m", "/tmp", **mlm))
  assert mlm_flops == pytest.approx(electra_flops, rel=1e-3)
  # Warm-up and checkpoints scale with the steps, so curves share FLOPs points.
  scale = mlm["num_train_steps"] / hparams["num_train_steps"]
  assert mlm["num_warmup_steps"] == round(hparams["num_warmup_steps"] * scale)
  assert mlm["save_checkpoints_steps"] == round(hparams["save_checkpoints_steps"] * scale)


def test_best_grid_point_is_the_best_mean_over_seeds():
  rows = [{"start": "random", "learning_rate": lr, "seed": seed, "dev_accuracy": acc}
          for lr, seed, acc in [(1e-4, 0, 70.0), (1e-4, 1, 72.0),
                                (1e-3, 0, 80.0), (1e-3, 1, 60.0),
                                (3e-4, 0, 73.0), (3e-4, 1, 72.0)]]
  learning_rate, mean, std, accuracies = pays_off.best_grid_points(rows)["random"]
  assert (learning_rate, mean, accuracies) == (3e-4, 72.5, [73.0, 72.0])
  assert std == pytest.approx(0.70710678)
  table = pays_off.results_table({"random": (learning_rate, mean, std, accuracies)}, {})
  assert "| random | 0.0003 | 72.50 ± 0.71 | 73.00, 72.00 |" in table


def test_in_domain_text_is_the_train_split_only_in_seeded_passes(tmp_path):
  task_dir = tmp_path / "sst"
  task_dir.mkdir()
  train = [f"train sentence {index} ." for index in range(45)]
  (task_dir / "train.tsv").write_text(
      "sentence\tlabel\n" + "".join(f"{s}\t{index % 2}\n" for index, s in enumerate(train)))
  (task_dir / "dev.tsv").write_text("sentence\tlabel\ndev sentence .\t1\n")
  path = tmp_path / "sentiment_train.txt"
  pays_off.write_in_domain_text(str(task_dir), str(path), copies=2)
  documents = path.read_text().split("\n\n")
  assert documents[-1] == ""  # the file ends with a document break
  documents = [document.split("\n") for document in documents[:-1]]
  # 45 sentences per pass in documents of 20: 20, 20, 5, twice.
  assert [len(document) for document in documents] == [20, 20, 5, 20, 20, 5]
  first_pass = sum(documents[:3], [])
  second_pass = sum(documents[3:], [])
  assert sorted(first_pass) == sorted(second_pass) == sorted(train)  # no labels, no dev
  assert first_pass != second_pass  # each pass in its own order
  pays_off.write_in_domain_text(str(task_dir), str(tmp_path / "again.txt"), copies=2)
  assert (tmp_path / "again.txt").read_text() == path.read_text()  # seeded


def test_a_work_dir_built_with_other_in_domain_copies_is_refused(tmp_path):
  corpus_dir = tmp_path / "corpus"
  corpus_dir.mkdir()  # a work dir from before the in-domain text: no recipe file
  task_dir = str(tmp_path / "sst")
  assert pays_off.build_corpus(str(tmp_path), task_dir, 0) == str(corpus_dir)
  with pytest.raises(SystemExit, match=r"built with \{'in_domain_copies': 0\}.*new --work-dir"):
    pays_off.build_corpus(str(tmp_path), task_dir, 20)
  (tmp_path / "corpus_recipe.json").write_text('{"in_domain_copies": 20}')
  assert pays_off.build_corpus(str(tmp_path), task_dir, 20) == str(corpus_dir)
  with pytest.raises(SystemExit, match=r"built with \{'in_domain_copies': 20\}"):
    pays_off.build_corpus(str(tmp_path), task_dir, 0)


def test_a_model_dir_trained_with_other_hparams_is_refused_not_resumed(tmp_path):
  hparams = shipped_hparams()
  model_dir = tmp_path / "models" / "electra"
  model_dir.mkdir(parents=True)
  (model_dir / "pretrain_config.json").write_text(json.dumps(dict(hparams, model_name="electra")))
  (model_dir / "pays_off_wall_seconds.json").write_text('{"seconds": 12.5}')
  pays_off.check_model_dir(str(tmp_path), "electra", hparams)  # the same run: accepted
  assert pays_off.pretrain(str(tmp_path), "electra", hparams) == 12.5  # and reused
  pays_off.check_model_dir(str(tmp_path), "mlm", hparams)  # no run yet: nothing to check
  longer = dict(hparams, num_train_steps=3000)
  with pytest.raises(SystemExit, match=r"models/electra was built with \{.*'num_train_steps': "
                     r"1000.*\}, not \{.*'num_train_steps': 3000.*--config or a new --work-dir"):
    pays_off.check_model_dir(str(tmp_path), "electra", longer)


def test_a_vocab_of_another_size_is_refused(tmp_path):
  hparams = shipped_hparams()
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  (data_dir / "vocab.txt").write_text("".join(f"token{index}\n" for index in range(100)))
  (tmp_path / "corpus").mkdir()
  with pytest.raises(SystemExit, match=r"vocab.txt was built with \{'vocab_size': 100\}, "
                     r"not \{'vocab_size': 8192\}"):
    pays_off.prepare_data(str(tmp_path), hparams, 0)


def test_finetuning_runs_are_reused_only_for_the_same_epochs(tmp_path):
  for epochs, accuracy in ((3, 70.0), (10, 74.5)):
    run_dir = tmp_path / "finetune" / f"random_lr0.0003_epochs{epochs}_seed0"
    run_dir.mkdir(parents=True)
    with open(run_dir / "sst_results.pkl", "wb") as f:
      pickle.dump([{"sst": {"accuracy": accuracy}}], f)
  for epochs, accuracy in ((3, 70.0), (10, 74.5)):
    rows = pays_off.finetune_grid(str(tmp_path), shipped_hparams(), ["random"], [3e-4], [0],
                                  float(epochs))
    assert rows == [{"start": "random", "learning_rate": 3e-4, "seed": 0,
                     "dev_accuracy": accuracy}]


def test_the_shipped_config_is_read_as_written():
  assert pays_off.read_config(str(ROOT / "configs" / "pretrain_cpu.json")) == shipped_hparams()


def test_keys_the_script_reads_are_filled_from_the_defaults(tmp_path):
  config = tmp_path / "short.json"
  config.write_text('{"model_size": "tiny", "num_train_steps": 50}')
  hparams = pays_off.read_config(str(config))
  defaults = PretrainingConfig.create("m", "/tmp", model_size="tiny")
  assert hparams == dict(model_size="tiny", num_train_steps=50, vocab_size=30522,
                         max_seq_length=128, num_warmup_steps=10000,
                         save_checkpoints_steps=1000, embedding_size=defaults.embedding_size,
                         model_hparam_overrides={})


@pytest.mark.parametrize("text, message", [
    ('{"num_train_step": 50}', r"short.json: Unknown hparam 'num_train_step'; did you mean "
     r"num_train_steps\?"),
    ('{"electra_objective": false, "model_dir": "m"}', r"short.json sets electra_objective, "
     r"model_dir, which this script sets for each run; leave them out$"),
    ('{"vocab_size": 0}', r"short.json: vocab_size must be positive, got 0$"),
    ('[1, 2]', r"short.json"),
])
def test_a_bad_config_is_refused_in_one_line(tmp_path, text, message):
  config = tmp_path / "short.json"
  config.write_text(text)
  with pytest.raises(SystemExit, match=message) as raised:
    pays_off.read_config(str(config))
  assert "\n" not in str(raised.value)


@pytest.mark.parametrize("argv, message", [
    (["--finetune-epochs", "0"], "--finetune-epochs must be positive"),
    (["--seeds", "0,x"], "'0,x' is not a comma-separated list of ints"),
    (["--learning-rates", "3e-4,0"], "--learning-rates must all be positive"),
    (["--in-domain-copies", "-1"], "--in-domain-copies must be 0 or more"),
])
def test_bad_arguments_stop_before_any_work(tmp_path, monkeypatch, capsys, argv, message):
  work_dir = tmp_path / "work"
  monkeypatch.setattr("sys.argv", ["pretraining_pays_off.py", "--work-dir", str(work_dir)] + argv)
  with pytest.raises(SystemExit) as raised:
    pays_off.main()
  assert raised.value.code == 2
  assert message in capsys.readouterr().err
  assert not work_dir.exists()
