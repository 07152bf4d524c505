"""Week 8 and everything that trains or uses a language model: data, one trainer, generation, checkpoints.

- `data`        characters or week 2's byte-level BPE on any text (offline fallback: stdlib docstrings);
                counter-based batches, so the data position is the step number
- `trainer`     `TrainConfig` + `Trainer`: AdamW/Lion/Adafactor, warm-up + cosine, clipping, bf16 autocast,
                activation checkpointing, exact resume, evaluation, DDP + ZeRO through `torchrun`
- `launch`      the `torchrun` entry point (`python -m studyforge.experiments.language_modeling.launch spec.json`)
- `generate`    greedy / temperature / top-k / top-p sampling with a KV cache (or recurrent state)
- `checkpoint`  the checkpoint format and `load_model(path_or_run_dir) -> (model, tokenizer, config)`
- `sampling`    what `forge sample RUN_ID --prompt …` hands off to
- `harness`     training with live logging for the studies; gradient-spike counting
- `studies`     week 8's studies, one module each (small LM and samples, perplexity vs size, exposure
                bias); `plots` draws their figures

Later weeks use a trained model like this:

    from studyforge.experiments.language_modeling.checkpoint import load_model
    from studyforge.experiments.language_modeling.generate import generate
    model, tokenizer, config = load_model("runs/week08/language_modeling.train_small_lm/<run-id>")
    ids = generate(model, torch.tensor([tokenizer.encode("ROMEO:")]), 200, temperature=0.8)
"""
