"""Data for a run: corpus documents, tokenizers, the shared token store, deterministic batches.

    documents (corpus / hf_source / synthetic) -> tokenizer -> token store (store: train and eval
    .bin files, memory-mapped; built by local.py or streamed.py) -> TrainReader (batch =
    f(seed, step, rank)) and eval_batches
"""

from sweep.data.corpus import iter_documents
from sweep.data.local import prepare_token_cache
from sweep.data.reader import TrainReader, eval_batches
from sweep.data.store import TokenStore
from sweep.data.tokenizer import vocab_size

__all__ = [
    "iter_documents",
    "vocab_size",
    "prepare_token_cache",
    "TokenStore",
    "TrainReader",
    "eval_batches",
]
