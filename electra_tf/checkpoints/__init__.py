"""Checkpoints in every format, by the original's variable names: TF1
name-based (`original`), Hugging Face safetensors (`huggingface`), our own
object-based format and model rebuilding (`native`), and conversion and
loading across formats (`conversion`)."""
