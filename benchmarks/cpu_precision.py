"""fp32 against bf16 autocast for training steps of our model on this machine's CPU.

    python benchmarks/cpu_precision.py

Why it exists: `train.precision=auto` uses bf16 only where the hardware runs it natively;
this prints the ratio that justifies the choice on the machine at hand. Both precisions are
timed in the same process, interleaved, so machine noise hits both alike.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from model import Transformer, TransformerShape
from sweep.run.device import bf16_is_fast

SHAPES = [(64, 2), (128, 2)]  # (D, L)
SEQ_LEN, BATCH, VOCAB, STEPS = 128, 32, 257, 4


def tokens_per_second(model: Transformer, optimizer: torch.optim.Optimizer, bf16: bool) -> float:
    batch_BxT1 = torch.randint(0, VOCAB, (BATCH, SEQ_LEN + 1))
    start = 0.0
    for step in range(STEPS + 1):  # the first step warms up
        if step == 1:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits_BxTxV = model(batch_BxT1[:, :-1])
        F.cross_entropy(logits_BxTxV.float().flatten(0, 1), batch_BxT1[:, 1:].flatten()).backward()
        optimizer.step()
        optimizer.zero_grad()
    return STEPS * BATCH * SEQ_LEN / (time.perf_counter() - start)


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"native bf16 on this CPU: {bf16_is_fast(torch.device('cpu'))}")
    for d, l in SHAPES:
        shape = TransformerShape(d=d, l=l, vocab_size=VOCAB, seq_len=SEQ_LEN, head_dim=32, mlp_ratio=4, rope_base=1e4)
        model = Transformer(shape)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        fp32 = [tokens_per_second(model, optimizer, bf16=False) for _ in range(2)]
        bf16 = [tokens_per_second(model, optimizer, bf16=True) for _ in range(2)]
        print(f"D={d} L={l} seq={SEQ_LEN} batch={BATCH}: fp32 {max(fp32):,.0f} tok/s, "
              f"bf16 autocast {max(bf16):,.0f} tok/s, bf16/fp32 = {max(bf16) / max(fp32):.2f}")


if __name__ == "__main__":
    main()
