"""Small stand-ins for C4 and the T5 tokenizer, written by the tests themselves (no hub).

`write_c4` lays out a local copy of `allenai/c4` as the hub has it: `en/c4-train.XXXXX-of-
YYYYY.json.gz` and `en/c4-validation...`, json lines with text, timestamp and url, and a README
whose `configs:` block maps config `en` to those files, so `datasets.load_dataset(folder, "en",
split=..., streaming=True)` reads it exactly as it reads the hub's C4.

`write_t5_tokenizer` trains a small SentencePiece unigram model and saves it as `spiece.model`,
the file T5's hub folder holds: `transformers` loads it as a T5 tokenizer (100 extra ids added).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np

README = """---
configs:
- config_name: en
  data_files:
  - split: train
    path: en/c4-train.*.json.gz
  - split: validation
    path: en/c4-validation.*.json.gz
---
A C4-format fixture written by the tests.
"""

LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def documents(n: int, seed: int) -> list[str]:
    """`n` documents of sentences made from a fixed Zipfian word list (seeded)."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(LETTERS, size=int(rng.integers(2, 8)))) for _ in range(300)]
    p_W = 1.0 / np.arange(1, len(words) + 1)
    p_W /= p_W.sum()
    docs = []
    for _ in range(n):
        sentences = [" ".join(rng.choice(words, size=int(rng.integers(4, 12)), p=p_W)).capitalize() + "."
                     for _ in range(int(rng.integers(2, 8)))]
        docs.append(" ".join(sentences))
    return docs


def write_c4(root: Path, train_files: int = 3, docs_per_file: int = 40, validation_docs: int = 60,
             seed: int = 0, corpus: list[str] | None = None) -> Path:
    """A local C4 folder; returns it. Documents differ across files and splits, or, with
    `corpus`, file i holds corpus documents i * per_file, i * per_file + 1, ... (cycling)."""
    (root / "en").mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(README)
    for split, n_files, per_file in (("train", train_files, docs_per_file), ("validation", 1, validation_docs)):
        for i in range(n_files):
            if corpus is not None:
                texts = [corpus[(i * per_file + j) % len(corpus)] for j in range(per_file)]
            else:
                texts = documents(per_file, seed=seed * 1000 + (500 if split == "validation" else 0) + i)
            with gzip.open(root / "en" / f"c4-{split}.{i:05d}-of-{n_files:05d}.json.gz", "wt") as f:
                for j, text in enumerate(texts):
                    f.write(json.dumps({"text": text, "timestamp": "2019-04-25T12:57:54Z",
                                        "url": f"https://example.org/{split}/{i}/{j}"}) + "\n")
    return root


def train_texts(root: Path, unit: int) -> list[str]:
    """The documents of train file `unit`, in order."""
    path = sorted((root / "en").glob("c4-train.*.json.gz"))[unit]
    with gzip.open(path, "rt") as f:
        return [json.loads(line)["text"] for line in f]


def write_t5_tokenizer(folder: Path, vocab: int = 300, corpus: list[str] | None = None) -> Path:
    """A folder holding `spiece.model` (pad 0, EOS 1, unk 2, as T5's), trained on `corpus`
    (default: 400 generated documents); returns it."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    texts = documents(400, seed=123) if corpus is None else corpus
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model,
                                   vocab_size=vocab, model_type="unigram", pad_id=0, eos_id=1, unk_id=2,
                                   bos_id=-1, minloglevel=2)
    (folder / "spiece.model").write_bytes(model.getvalue())
    return folder
