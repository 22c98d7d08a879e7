"""Token-id parity of the fast tokenizer with the pure-Python reference.

The reference is Model Garden's `FullTokenizer` adjusted to the original's
three differences (`ReferenceFullTokenizer`); one test pins those differences
down, another checks parity with the unadjusted Model Garden tokenizer where
the semantics coincide.
"""

import random

import pytest
from official.nlp.tools import tokenization as model_garden

from electra_tf import tokenization
from tests.conftest import CORPUS_DIR, VOCAB_FILE

# (do_lower_case, strip_accents)
MODES = [(True, True), (True, False), (False, True), (False, False)]

ACCENTED = [
    "Café naïve résumé Ångström Straße ÉCOLE façade coöperate Œuvre Ĳssel",
    "İstanbul ΟΔΥΣΣΕΥΣ Σίσυφος ὀδυσσεύς Tiếng Việt có dấu हिन्दी اَلْعَرَبِيَّةُ",
    "decomposed e\u0301 and precomposed \u00e9, Å vs A\u030a, ﬁ ligature, Ⅻ, ½",
]
CJK = [
    "我们今天去北京，天气很好！中文字符测试。",
    "日本語のテキスト、カタカナとひらがな。한국어 텍스트입니다.",
    "ext-B \U00020000\U0002a6d6 compatibility \uf900\ufa6a mixed中english文",
]
PUNCTUATION = [
    "!!!???...---((([[[{{{}}}]]])))",
    "\u201csmart quotes\u201d \u2018single\u2019 \u2014 em-dash \u2026 \u00abguillemets\u00bb \u00bf\u00a1",
    "$^`~|\\@#%&*_+=<> e.g.,i.e.;a:b/c\\d x--y 3.14 1,000,000 50% #hashtag @user",
]
CONTROL = [
    "\x00null\x01\x07bell\x1b[31mred\x1b[0m",
    "zero\u200bwidth\u200cnon\u200djoin bom\ufeffinside soft\xadhyphen",
    "\ue000private\U000f0000use unassigned\u0378char \U000e0001tag",
    "tab\tnewline\ncr\rvt\x0bff\x0cnel\x85ls\u2028ps\u2029end",
    "rep\ufffdlacement \u3000ideographic\u00a0nbsp\u2009thin",
]
LONG_WORDS = [
    "a" * 201, "b" * 200, "short " + "c" * 250 + " tail",
    "\u00e9" * 250,  # 250 letters, also after stripping accents
    "x" * 199 + "\u00e9",  # 201 characters before stripping, 200 after
    "ab" * 150 + "!" + "cd" * 50, "\u4e2d" * 300, "1" * 250,
    "A" * 300 + "\u0000" + "b",  # the deleted NUL joins the word
]
UNSEGMENTABLE = [
    "a\u2603b snow\u2603man \U0001d518\U0001d52b\U0001d526 \u24d0\u24d1\u24d2",
    "\U0001f44d\U0001f3fd emoji \U0001f600 qqqqxzzkjv",
]
SPECIAL_TEXT = ["[MASK] [CLS] [SEP] [PAD] [UNK] [unused0] [mask]"]


def random_texts(count: int, seed: int = 0):
  """Random strings over ASCII, the BMP and all planes (no surrogates)."""
  rng = random.Random(seed)
  texts = []
  for _ in range(count):
    chars = []
    for _ in range(rng.randrange(1, 60)):
      code_point = rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0x80, 0x3000),
                               rng.randrange(0, 0x110000)])
      if not 0xD800 <= code_point < 0xE000:
        chars.append(chr(code_point))
    texts.append("".join(chars))
  return texts


HARD_CASES = (ACCENTED + CJK + PUNCTUATION + CONTROL + LONG_WORDS + UNSEGMENTABLE
              + SPECIAL_TEXT + random_texts(1000))


def corpus_lines():
  lines = []
  for path in sorted(CORPUS_DIR.iterdir()):
    lines.extend(path.read_text(encoding="utf-8").splitlines())
  return lines


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
