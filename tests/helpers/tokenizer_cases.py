"""Texts that stress a WordPiece tokenizer, shared by the Python and in-graph
tokenizer tests: accents, CJK, punctuation, control characters, long and
unsegmentable words, special-token text, random code points."""

import random

from tests.conftest import CORPUS_DIR

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
