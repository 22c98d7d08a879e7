"""Pre-training runs: the TFRecord input pipeline (`pretrain_data`), the
original's eval metrics (`metrics`) and the training loop (`trainer`)."""
