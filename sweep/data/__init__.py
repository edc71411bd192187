"""Data for a run: corpus documents, tokenizers, the shared token cache, deterministic batches.

    documents (corpus) -> tokenizer -> token cache (train.bin / eval.bin, memory-mapped)
                       -> TrainReader (batch = f(seed, step, rank)) and eval_batches
"""

from sweep.data.cache import TokenCache, prepare_token_cache
from sweep.data.corpus import iter_documents
from sweep.data.reader import TrainReader, eval_batches
from sweep.data.tokenizer import vocab_size

__all__ = [
    "iter_documents",
    "vocab_size",
    "prepare_token_cache",
    "TokenCache",
    "TrainReader",
    "eval_batches",
]
