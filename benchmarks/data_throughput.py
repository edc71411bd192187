"""How fast `sweep prepare` tokenizes, how much disk a prepared token takes, and whether the
train reader keeps up with the fastest run.

    python benchmarks/data_throughput.py [--docs-per-file 20000] [--files 4]

1. Tokenization: a local folder in C4's own layout (json.gz files, README configs) filled with
   English prose (the embedded corpus), read through `datasets` streaming and tokenized by a T5
   SentencePiece tokenizer trained here (no hub: 8,000 pieces + 100 extra ids + BOS), through
   the real `prepare_streamed` path with 1 and with 2 workers. Prints tokens/s per worker and
   in all, and bytes per token on disk.
2. The synthetic source's generation rate, through the same path.
3. Reader: `TrainReader.batch` over the prepared shards (batch 256 x seq 512), tokens/s, next to
   what the fastest run of a C4 sweep consumes: D=256, L=4, V=32,101 at 45% MFU of an H100
   (989 TFLOP/s bf16), the smallest model of a typical grid, so the one reading fastest.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from model import TransformerShape
from model.arithmetic import flops_per_token, peak_flops
from sweep.config import DataConfig, DataSource, SyntheticConfig, TokenizerKind
from sweep.data.corpus import iter_documents
from sweep.data.streamed import prepare_streamed
from sweep.data.reader import TrainReader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.c4_fixture import write_c4, write_t5_tokenizer  # noqa: E402  (the tests' C4 layout)

PIECES = 8000


def embedded_documents() -> list[str]:
    data = DataConfig(source=DataSource.embedded, tokenizer=TokenizerKind.byte, vocab_size=257, paths=[],
                      text_field="text", eval_tokens=1, cache_dir="")
    return list(iter_documents(data))


def c4_config(root: Path, cache: Path) -> DataConfig:
    return DataConfig(source=DataSource.hf, tokenizer=TokenizerKind.pretrained, vocab_size=PIECES + 101, paths=[],
                      text_field="text", eval_tokens=10_000, cache_dir=str(cache),
                      tokenizer_name=str(root / "t5"), add_bos=True, hf_path=str(root / "c4"), hf_name="en",
                      split="train", eval_split="validation", max_epochs=1.0, density_documents=1000,
                      synthetic=SyntheticConfig(0, 1, 8, 0.01, 1.0, 0.0, None, 100_000))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs-per-file", type=int, default=20000)
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="data-throughput-"))
    docs = embedded_documents()
    write_c4(root / "c4", args.files, args.docs_per_file, args.docs_per_file, corpus=docs)
    write_t5_tokenizer(root / "t5", PIECES, corpus=docs)
    print(f"corpus: {args.files} C4-format files x {args.docs_per_file} documents of English prose; "
          f"T5-style SentencePiece, {PIECES} pieces; {os.cpu_count()} CPUs")

    from sweep.data.tokenizer import PretrainedTokenizer

    tokenizer = PretrainedTokenizer.load(root / "t5", add_bos=True, vocab_size=PIECES + 101)
    sample = docs[:5000]
    start = time.perf_counter()
    n_tokens = sum(len(tokenizer.encode_stream(sample[i:i + 512])) for i in range(0, len(sample), 512))
    print(f"tokenizer alone, in this process: {n_tokens / (time.perf_counter() - start):,.0f} tokens/s "
          f"({n_tokens / sum(len(d.encode()) for d in sample):.3f} tokens per byte of text)")

    for workers in (1, 2):
        cache = root / f"cache-{workers}"
        start = time.perf_counter()
        corpus = prepare_streamed(c4_config(root, cache), train_tokens=10**12, workers=workers)
        wall = time.perf_counter() - start
        m = corpus.manifest
        disk = sum((corpus.path / s["file"]).stat().st_size for s in m["shards"])
        how = "tokenizers' own threads on every core" if workers == 1 else "one thread each"
        print(f"prepare, {workers} worker(s) ({how}): {m['n_train_tokens']:,} train tokens in {wall:.1f} s "
              f"(eval, density and start-up included) = {m['n_train_tokens'] / wall:,.0f} tokens/s in all; "
              f"{m['worker_tokens_per_second']:,.0f} tokens/s per worker while tokenizing; "
              f"{disk / m['n_train_tokens']:.2f} bytes/token on disk ({m['dtype']})")

    synthetic = DataConfig(source=DataSource.synthetic, tokenizer=TokenizerKind.none, vocab_size=32101, paths=[],
                           text_field="text", eval_tokens=10_000, cache_dir=str(root / "cache-syn"),
                           tokenizer_name=None, add_bos=False, hf_path=None, hf_name=None, split="train",
                           eval_split=None, max_epochs=1.0, density_documents=1000,
                           synthetic=SyntheticConfig(0, 2, 8, 0.01, 1.0, 0.0, None, 100_000))
    start = time.perf_counter()
    corpus = prepare_streamed(synthetic, train_tokens=20_000_000, workers=1)
    wall = time.perf_counter() - start
    print(f"synthetic (V=32101, order 2, 8 successors): {corpus.n_train_tokens:,} tokens in {wall:.1f} s = "
          f"{corpus.manifest['worker_tokens_per_second']:,.0f} tokens/s per worker")

    tokens = corpus.train_tokens()
    reader = TrainReader(tokens, seq_len=512, batch_size=256, seed=0)
    reader.batch(0)
    steps = 20
    start = time.perf_counter()
    for step in range(1, steps + 1):
        reader.batch(step)
    reader_rate = steps * 256 * 512 / (time.perf_counter() - start)
    shape = TransformerShape(d=256, l=4, vocab_size=32101, seq_len=512, head_dim=64, mlp_ratio=4, rope_base=1e4)
    consumed = 0.45 * peak_flops("h100-sxm") / flops_per_token(shape)
    print(f"reader: {reader_rate:,.0f} tokens/s (batch 256 x 512, {tokens.n_shards} shards); the fastest run "
          f"(D=256, L=4 at 45% MFU on an H100) consumes {consumed:,.0f} tokens/s: reader / consumption = "
          f"{reader_rate / consumed:.1f}")


if __name__ == "__main__":
    main()
