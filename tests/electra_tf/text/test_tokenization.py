"""Token-id parity of the fast tokenizer with the pure-Python reference.

The reference is Model Garden's `FullTokenizer` adjusted to the original's
three differences (`ReferenceFullTokenizer`); one test pins those differences
down, another checks parity with the unadjusted Model Garden tokenizer where
the semantics coincide.
"""


import pytest
from official.nlp.tools import tokenization as model_garden

from electra_tf.text import tokenization
from tests.conftest import VOCAB_FILE
from tests.helpers.tokenizer_cases import (ACCENTED, CJK, HARD_CASES, MODES, PUNCTUATION,
                                           SPECIAL_TEXT, corpus_lines)


@pytest.fixture(scope="module")
def shakespeare():
  return corpus_lines()


@pytest.fixture(scope="module")
def tokenizers():
  """(fast, reference) per mode, built once."""
  return {mode: (tokenization.FullTokenizer(str(VOCAB_FILE), *mode),
                 tokenization.ReferenceFullTokenizer(str(VOCAB_FILE), *mode))
          for mode in MODES}


def assert_same_ids(fast, reference, texts):
  fast_ids = fast.encode_batch(texts)
  reference_ids = reference.encode_batch(texts)
  mismatches = [(t, f, r) for t, f, r in zip(texts, fast_ids, reference_ids) if f != r]
  assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]!r}"
  return sum(map(len, reference_ids))


@pytest.mark.parametrize("mode", MODES, ids=lambda m: f"lower={m[0]},strip={m[1]}")
def test_parity_on_shakespeare_and_hard_cases(tokenizers, shakespeare, mode):
  fast, reference = tokenizers[mode]
  words = sum(len(line.split()) for line in shakespeare)
  assert words > 100_000
  num_tokens = assert_same_ids(fast, reference, shakespeare + HARD_CASES)
  assert num_tokens > 200_000


@pytest.mark.parametrize("mode", MODES[:3], ids=lambda m: f"lower={m[0]},strip={m[1]}")
def test_parity_on_every_bmp_code_point(tokenizers, mode):
  """Each character between letters, alone, and after an upper-case letter."""
  fast, reference = tokenizers[mode]
  texts = [f"a{chr(c)}b {chr(c)} X{chr(c)}" for c in range(0x10000)
           if not 0xD800 <= c < 0xE000]
  assert_same_ids(fast, reference, texts)


@pytest.mark.parametrize("mode", MODES[:3], ids=lambda m: f"lower={m[0]},strip={m[1]}")
def test_parity_on_ascii_only_batches(tokenizers, mode):
  """All-ASCII batches take a faster normalisation path."""
  fast, reference = tokenizers[mode]
  texts = [f"a{chr(c)}b {chr(c)} X{chr(c)}Y" for c in range(128)]
  texts += ["".join(chr(c) for c in range(128)), "\x00\x7f\x1b[0m\x0b\x0c\x1c\x1f tail"]
  assert_same_ids(fast, reference, texts)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES[:3], ids=lambda m: f"lower={m[0]},strip={m[1]}")
def test_parity_on_every_code_point(tokenizers, mode):
  fast, reference = tokenizers[mode]
  texts = [f"a{chr(c)}b {chr(c)} X{chr(c)}" for c in range(0x10000, 0x110000)]
  assert_same_ids(fast, reference, texts)


def test_parity_with_unadjusted_model_garden_where_semantics_agree(tokenizers, shakespeare):
  """Model Garden as installed equals the original on text without the
  characters and word lengths where they differ."""
  texts = shakespeare + ACCENTED + CJK + PUNCTUATION + SPECIAL_TEXT + ["b" * 200]
  for lower in (True, False):
    stock = model_garden.FullTokenizer(str(VOCAB_FILE), do_lower_case=lower)
    fast = tokenizers[(lower, True)][0]
    expected = [stock.convert_tokens_to_ids(stock.tokenize(t)) for t in texts]
    assert fast.encode_batch(texts) == expected


def test_reference_adjustments_matter():
  """Each adjustment of Model Garden changes the output, so the reference
  really encodes the original's semantics."""
  stock = model_garden.FullTokenizer(str(VOCAB_FILE), do_lower_case=True)
  reference = tokenization.ReferenceFullTokenizer(str(VOCAB_FILE))
  no_strip = tokenization.ReferenceFullTokenizer(str(VOCAB_FILE), strip_accents=False)
  long_word = "a" * 250  # the original's limit is 200 characters, Model Garden's 400
  assert stock.tokenize(long_word) != ["[UNK]"]
  assert reference.tokenize(long_word) == ["[UNK]"]
  private_use = "ab\ue000cd"  # category Co: the original deletes it, Model Garden keeps it
  assert stock.tokenize(private_use) == ["[UNK]"]
  assert reference.tokenize(private_use) == ["abc", "##d"]
  # Model Garden always strips accents when lower-casing; "café" is not in the vocab.
  assert reference.tokenize("café") == ["cafe"]
  assert no_strip.tokenize("café") == ["[UNK]"]


def test_known_answers():
  tokenizer = tokenization.FullTokenizer(str(VOCAB_FILE))
  assert tokenizer.tokenize("unaffable") == ["una", "##ffa", "##ble"]  # greedy longest match
  assert tokenizer.tokenize("[MASK]") == ["[", "mask", "]"]
  assert tokenizer.tokenize("Hello, World!") == ["hello", ",", "world", "!"]
  assert tokenizer.tokenize("a\x00b") == tokenizer.tokenize("ab")
  assert tokenizer.tokenize("x" * 201) == ["[UNK]"]
  assert tokenizer.tokenize("我们") == ["我", "[UNK]"]  # "们" is not in the vocab
  assert tokenizer.tokenize("Ångström") == ["ang", "##strom"]
  assert tokenizer.tokenize("  \t\n ") == []
  cased = tokenization.FullTokenizer(str(VOCAB_FILE), do_lower_case=False)
  assert cased.tokenize("Hello") == ["[UNK]"]  # the uncased vocab has no "Hello"
  assert tokenizer.convert_tokens_to_ids(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) == [
      0, 100, 101, 102, 103]


def test_texts_with_newlines_tokenize_as_with_spaces():
  tokenizer = tokenization.FullTokenizer(str(VOCAB_FILE))
  texts = ["one\ntwo", "three", "four\n\nfive\n"]
  assert tokenizer.encode_batch(texts) == [
      tokenizer.encode(t.replace("\n", " ")) for t in texts]


def test_batches_larger_than_one_call(monkeypatch):
  tokenizer = tokenization.FullTokenizer(str(VOCAB_FILE))
  texts = corpus_lines()[:3000]
  expected = tokenizer.encode_batch(texts)
  monkeypatch.setattr(tokenization, "_BATCH_CHARS", 1000)
  assert tokenizer.encode_batch(texts) == expected


@pytest.mark.parametrize("mode", MODES, ids=lambda m: f"lower={m[0]},strip={m[1]}")
def test_basic_tokenizer_matches_reference(mode):
  reference = tokenization.ReferenceFullTokenizer(str(VOCAB_FILE), *mode)
  basic = tokenization.BasicTokenizer(*mode)
  texts = corpus_lines()[:5000] + HARD_CASES
  # pylint: disable=protected-access
  expected = [reference._tokenizer.basic_tokenizer.tokenize(t) for t in texts]
  assert [basic.tokenize(t) for t in texts] == expected


def test_unusual_vocab_entries(tmp_path):
  """Duplicates, blank lines and entries with spaces, as the original reads them."""
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "", "the",
            "a b", "##s", "sat", "\x00odd", "cat"]
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("\n".join(tokens) + "\n", encoding="utf-8")
  fast = tokenization.FullTokenizer(str(vocab_file))
  reference = tokenization.ReferenceFullTokenizer(str(vocab_file))
  texts = ["the cats sat", "a b the cat", "odd", "thethe", ""]
  assert_same_ids(fast, reference, texts)
  assert fast.encode("the cat") == [8, 13]  # the last copy's id, as the original


def test_vocab_without_unk_is_rejected(tmp_path):
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("[PAD]\nthe\ncat\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"\[UNK\]"):
    tokenization.FullTokenizer(str(vocab_file))


def test_empty_batch_and_empty_texts():
  tokenizer = tokenization.FullTokenizer(str(VOCAB_FILE))
  assert tokenizer.encode_batch([]) == []
  assert tokenizer.encode_batch(["", " ", "\x00"]) == [[], [], []]
