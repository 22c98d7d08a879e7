"""QA fixtures: the real SQuAD 1.1 rows of allennlp 0.9.0, fetched once."""

import pytest

from tests.helpers.qa_fixtures import fetch_allennlp_squad


@pytest.fixture(scope="session")
def allennlp_squad(tmp_path_factory):
  """Path of allennlp 0.9.0's `tests/fixtures/data/squad.json` (5 real questions)."""
  return fetch_allennlp_squad(str(tmp_path_factory.mktemp("allennlp")))
