"""Progress reporting shared by the training loops (the original's `ETAHook`)."""


def seconds_to_str(seconds: float) -> str:
  """A duration as `m:ss`, `h:mm:ss` or `Nd h:mm:ss` (the original's `secs_to_str`)."""
  seconds = int(round(seconds))
  days, seconds = divmod(seconds, 86400)
  hours, seconds = divmod(seconds, 3600)
  minutes, seconds = divmod(seconds, 60)
  text = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
  return f"{days}d {text}" if days else text
