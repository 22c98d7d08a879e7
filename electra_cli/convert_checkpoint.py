"""Converts ELECTRA checkpoints between the original's TF1 format, electra-tf's
TF2 format and Hugging Face directories.

  # Google's released ELECTRA-Small -> electra-tf (TF2) checkpoint
  python convert_checkpoint.py --input electra_small --output small_tf2 --to electra_tf
  # electra-tf checkpoint -> original format (for the original code or HF's converter)
  python convert_checkpoint.py --input small_tf2 --output small_tf1 --to original
  # Hugging Face discriminator (+ generator) -> original format
  python convert_checkpoint.py --input electra-small-discriminator \\
      --hf-generator electra-small-generator --output small_tf1 --to original
  # a pre-training run (or any checkpoint above) -> Hugging Face
  # (hf_small/discriminator: ElectraForPreTraining, hf_small/generator: ElectraForMaskedLM)
  python convert_checkpoint.py --input $DATA_DIR/models/my_model --output hf_small --to hf
  # a fine-tuned GLUE model -> ElectraForSequenceClassification (with id2label)
  python convert_checkpoint.py --input $DATA_DIR/models/$MODEL/finetuning_models/sst_model_1 \\
      --output hf_sst --to hf

The logic is in `electra_tf.checkpoints.conversion` and, for Hugging Face
output, `electra_tf.checkpoints.huggingface_export`; a fine-tuned trial
directory (one with `finetune_config.json`) goes through
`export_finetuned_classifier` below.
"""

from typing import Optional, Sequence

from electra_tf import cli
from electra_tf.checkpoints import conversion, huggingface_export
from electra_tf.checkpoints.original import CheckpointError
from electra_tf.config.hparams import parse_hparams
from finetune import modeling as finetune_modeling


def build_arg_parser():
  parser = cli.new_parser(__doc__)
  parser.add_argument("--input", required=True,
                      help="checkpoint prefix or directory (original or electra_tf, e.g. a "
                           "run_pretraining model dir), a Hugging Face directory with "
                           "config.json and model.safetensors, or (--to hf) a fine-tuned "
                           "trial directory")
  parser.add_argument("--output", required=True,
                      help="output directory (must not exist or be empty, unless --overwrite)")
  parser.add_argument("--to", required=True, choices=conversion.OUTPUT_FORMATS,
                      help="original: name-based TF1 checkpoint with the original's variable "
                           "names; electra_tf: TF2 tf.train.Checkpoint plus model_spec.json; "
                           "hf: Hugging Face directories (config.json, model.safetensors, "
                           "vocab.txt, tokenizer config)")
  parser.add_argument("--from", dest="source_format", choices=conversion.FORMATS,
                      help="input format (default: detected)")
  parser.add_argument("--hf-generator", "--hf_generator", dest="hf_generator",
                      help="Hugging Face generator directory (ElectraForMaskedLM) to pair with "
                           "the discriminator given as --input: gives generator + discriminator")
  parser.add_argument("--hparams",
                      help="pre-training hparams as a JSON object or a .json file, as the "
                           "original's --hparams: override what is inferred from an original "
                           "checkpoint, or rebuild an electra_tf checkpoint without "
                           "model_spec.json")
  parser.add_argument("--global-step", "--global_step", dest="global_step", type=int,
                      help="global_step to write (default: the input's, if it has one)")
  parser.add_argument("--vocab-file", "--vocab_file", dest="vocab_file",
                      help="--to hf: the vocabulary to ship (default: vocab.txt beside the "
                           "input, or the pre-training run's vocab_file)")
  parser.add_argument("--task",
                      help="--to hf from a fine-tuned multi-task model: the classification "
                           "or regression task to export (default: its only one)")
  parser.add_argument("--overwrite", action="store_true",
                      help="replace a non-empty output directory")
  return parser


def export_finetuned_classifier(model_dir: str, output_dir: str, task_name: Optional[str] = None,
                                vocab_file: Optional[str] = None, overwrite: bool = False,
                                log=print) -> str:
  """A fine-tuned classification or regression task -> an HF
  `ElectraForSequenceClassification` directory (`huggingface_export`).

  Returns:
    output_dir.
  """
  conversion.check_output_dir(output_dir, overwrite)
  finetuned = finetune_modeling.load_finetuned_model(model_dir)
  heads = [t for t in finetuned.tasks if t.kind in ("classification", "regression")]
  if task_name is not None:
    heads = [t for t in heads if t.name == task_name]
  if len(heads) != 1:
    raise CheckpointError(
        f"{model_dir} has the classification/regression tasks "
        f"{[t.name for t in finetuned.tasks if t.kind in ('classification', 'regression')]}"
        f"{'' if task_name is None else f' (asked for {task_name!r})'}: pass --task with one")
  task = heads[0]
  model = finetuned.model
  encoder = model.bert_config
  dense = model.heads[task.name].dense
  if task.kind == "classification":
    labels = {str(i): label for i, label in enumerate(task.label_list)}
    extra = {"num_labels": len(labels), "id2label": labels,
             "label2id": {label: int(i) for i, label in labels.items()},
             "problem_type": "single_label_classification", "finetuning_task": task.name}
    scale, shift = 1.0, 0.0
  else:
    extra = {"num_labels": 1, "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
             "problem_type": "regression", "finetuning_task": task.name}
    scale, shift = task.max_value, task.min_value
  weights = {n: v.numpy() for n, v in model.backbone.named_variables().items()}
  state = huggingface_export.hf_state_dict(weights, encoder, "electra", None)
  state.update(huggingface_export.classifier_state(
      dense.kernel.numpy(), dense.bias.numpy(), encoder.hidden_size, scale, shift))
  config = huggingface_export.hf_config(encoder, "ElectraForSequenceClassification", **extra)
  vocab = huggingface_export.check_vocab(vocab_file or finetuned.vocab_file,
                                         encoder.vocab_size)
  huggingface_export.export_networks(
      output_dir, [{"subdir": "", "config": config, "state": state}], vocab,
      finetuned.config.do_lower_case, log)
  return output_dir


def _run(argv: Optional[Sequence[str]]) -> int:
  args = build_arg_parser().parse_args(argv)
  hparams = parse_hparams(args.hparams)
  if args.to == "hf" and finetune_modeling.is_finetuned_dir(args.input):
    export_finetuned_classifier(args.input, args.output, args.task, args.vocab_file,
                                args.overwrite)
    return 0
  conversion.convert(
      args.input, args.output, args.to, source_format=args.source_format,
      generator_path=args.hf_generator, hparams=hparams, global_step=args.global_step,
      overwrite=args.overwrite, vocab_file=args.vocab_file)
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  return cli.run_main(_run, argv)
