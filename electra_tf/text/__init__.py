"""Text to token ids: the vocab, the WordPiece tokenizer in Python
(`tokenization`) and as core TF ops (`ingraph`), and packing ids into encoder
inputs in the graph (`packing`)."""
