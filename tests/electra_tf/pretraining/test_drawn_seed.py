"""A seed drawn because none was given is logged and saved; a saved one is reused."""

import logging
import re

import pytest

from electra_tf.config.hparams import ConfigError
from electra_tf.pretraining.trainer import EVAL_SEED_WITHOUT_SAVED_CONFIG, Pretrainer, resolve_seed
from tests.helpers.trainer import global_batches, make_config, sliced_dataset_fn


def test_a_drawn_seed_is_logged(tmp_path, caplog):
  with caplog.at_level(logging.INFO, logger="electra_tf.pretraining.trainer"):
    trainer = Pretrainer(make_config(tmp_path, seed=None), sliced_dataset_fn(global_batches(8)))
  drawn = [r.getMessage() for r in caplog.records if "drawn" in r.getMessage()]
  assert drawn == [f"seed {trainer.config.seed} (drawn, as no seed was given; saved in "
                   "pretrain_config.json)"]
  assert re.fullmatch(r"\d+", str(trainer.config.seed))
  caplog.clear()
  with caplog.at_level(logging.INFO, logger="electra_tf.pretraining.trainer"):
    Pretrainer(make_config(tmp_path / "b", seed=5), sliced_dataset_fn(global_batches(8)))
  assert not any("drawn" in r.getMessage() for r in caplog.records)


def test_a_run_without_a_seed_reuses_its_saved_seed(tmp_path):
  make_config(tmp_path, seed=41).write_json(str(tmp_path / "pretrain_config.json"))
  for do_train in (True, False):
    config = make_config(tmp_path, seed=None, do_train=do_train, do_eval=not do_train)
    assert resolve_seed(config) == (41, f"from {tmp_path / 'pretrain_config.json'}")


def test_an_unreadable_saved_config_is_a_config_error_naming_it(tmp_path):
  saved = tmp_path / "pretrain_config.json"
  saved.write_text('{"seed": 41')  # cut short
  config = make_config(tmp_path, seed=None, do_train=False, do_eval=True)
  with pytest.raises(ConfigError, match=re.escape(f"{saved} is not valid JSON: ")):
    resolve_seed(config)


def test_an_evaluation_without_any_seed_uses_a_fixed_one(tmp_path):
  config = make_config(tmp_path, seed=None, do_train=False, do_eval=True)
  assert resolve_seed(config) == (
      EVAL_SEED_WITHOUT_SAVED_CONFIG, "fixed for evaluation, as no seed was given or saved")
