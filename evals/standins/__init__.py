"""Stand-ins for the seed's four models: GGUF files with each model's real architecture, hyper-parameters,
vocabulary size and special tokens, and random weights, under GPT4All's own file names.

    python -m evals.standins --out DIR           # the few-layer set (seconds, ~0.1 GB)
    python -m evals.standins --out DIR --full    # the full-size set (~20 GB; never committed)

`CONCILIO_GPT4ALL_DIR=DIR` then makes them the `gpt4all-seed` profile with no other setting.
specs.py holds the shapes (with the published configurations cited), vocab.py the tokenizers, write.py the
writer; nothing here runs at import.
"""
