"""The networks: layers -> encoder -> networks, the pre-training heads, the
ELECTRA objective as pure tensor functions (`objective`) and the generator +
discriminator model (`pretraining_model`)."""
