"""A seed drawn because none was given is logged and saved."""

import logging
import re

from electra_tf.pretraining.trainer import Pretrainer
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
