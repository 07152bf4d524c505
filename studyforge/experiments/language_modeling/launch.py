"""Entry point for `torchrun`: train one language model from a JSON spec, on every rank.

    torchrun --standalone --nproc_per_node 2 -m studyforge.experiments.language_modeling.launch spec.json

`spec.json` holds `model` (TransformerConfig fields), `train` (TrainConfig fields), `data`
(`load_data`'s arguments: corpus_path, tokenizer, bpe_vocab_size, max_chars), optional `device`, and
`out` — where rank 0 writes the final training checkpoint (its `history` has the loss curve). The
process group uses gloo on the CPU and NCCL on CUDA; run without torchrun, it trains in one process.
"""

from __future__ import annotations

import gc
import json
import os
import sys

import torch
import torch.distributed as dist

from studyforge.experiments.language_modeling.data import load_data
from studyforge.experiments.language_modeling.trainer import TrainConfig, Trainer
from studyforge.experiments.transformer.config import TransformerConfig


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        spec = json.load(fh)
    device = spec.get("device", "cpu")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        if device == "cuda":
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
            device = f"cuda:{os.environ['LOCAL_RANK']}"
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    try:
        data = load_data(**spec.get("data", {}))
        trainer = Trainer(TransformerConfig(**spec["model"]), TrainConfig(**spec["train"]), data, device)
        trainer.fit()
        trainer.save(spec["out"])
        # Free the DDP wrapper and the sharded optimizer (and the gloo work they hold) while the process
        # group and the interpreter are fully alive: left to interpreter shutdown, gloo's threads can be
        # torn down mid-flight and the process aborts ("terminate called without an active exception").
        del trainer
        gc.collect()
        if distributed:
            dist.barrier()
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
