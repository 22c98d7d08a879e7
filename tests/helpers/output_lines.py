"""Telling error- and warning-level lines apart in a command's output."""

import re

# TensorFlow's C++ log lines ("2026-01-01 10:00:00.123: E external/...",
# "E0000 00:00:..."), Python logging's level names and tracebacks.
_ERROR_LINE = re.compile(
    r"^(\S+ \S+: [EF] |[EF]\d{4} |.*\b(ERROR|CRITICAL|FATAL)\b|Traceback )")


def error_lines(text: str):
  """The lines of `text` at error level or above."""
  return [line for line in text.splitlines() if _ERROR_LINE.match(line)]


# TensorFlow's C++ warnings, Python logging's (`cli.LevelTaggedFormatter`,
# absl) and the `warnings` module's ("x.py:3: UserWarning: ...").
_WARNING_LINE = re.compile(r"^(\S+ \S+: W |W\d{4} |.*\bWARNING\b|.*\w+Warning: )")
_TIMESTAMP = re.compile(r"^(\d\d:\d\d:\d\d |\S+ \S+: (?=W )|W\d{4} \S+\s+\d+ )")
_VARYING = re.compile(r"0x[0-9a-f]+|\d+")


def repeated_warnings(text: str):
  """Warning lines of `text` printed more than once, counting lines that
  differ only in timestamps, numbers and addresses as the same warning."""
  seen, repeated = set(), []
  for line in text.splitlines():
    if not _WARNING_LINE.match(line):
      continue
    key = _VARYING.sub("#", _TIMESTAMP.sub("", line))
    if key in seen:
      repeated.append(line)
    seen.add(key)
  return repeated
