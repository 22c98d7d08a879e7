"""Telling error-level lines apart in a command's output."""

import re

# TensorFlow's C++ log lines ("2026-01-01 10:00:00.123: E external/...",
# "E0000 00:00:..."), Python logging's level names and tracebacks.
_ERROR_LINE = re.compile(
    r"^(\S+ \S+: [EF] |[EF]\d{4} |.*\b(ERROR|CRITICAL|FATAL)\b|Traceback )")


def error_lines(text: str):
  """The lines of `text` at error level or above."""
  return [line for line in text.splitlines() if _ERROR_LINE.match(line)]
