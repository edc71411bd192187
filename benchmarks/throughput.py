"""Training throughput and MFU of our model against a `transformers` GPT-2 of the same shape.

    python benchmarks/throughput.py [--shapes 256x4,512x4,...] [--batch 4] [--steps 3]
                                    [--modes eager,compiled] [--precisions fp32,bf16]

For each shape (D x L, seq 512, V = 32,101) and each mode (eager, torch.compile: our model
compiles each block, the reference the whole model) and precision (fp32, bf16 autocast), one
process times full training steps (forward, backward, AdamW: fused on CUDA) of both models
interleaved, after warm-up steps that also absorb compilation, and prints tokens/s, achieved
model FLOP/s (model/arithmetic.flops_per_token, the same formula for both), MFU against a peak
measured in the same run (a large matmul in that precision) and against the datasheet peak
where known (H100 SXM bf16 dense: 989 TFLOP/s), and ours / reference.

The reference is GPT2LMHeadModel (attn_implementation="sdpa", untied head, no dropout) with
n_embd = D, n_layer = L, n_head = D / 64, n_inner = 4 D, GELU. Differences that remain: GPT-2
has learned position embeddings instead of rotary, LayerNorm with biases instead of RMSNorm,
biases in every linear layer, no QK-norm.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from model import Transformer, TransformerShape
from model.arithmetic import device_key, flops_per_token, peak_flops

SEQ, VOCAB = 512, 32101


def reference_model(shape: TransformerShape) -> torch.nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=VOCAB, n_positions=SEQ, n_embd=shape.d, n_layer=shape.l,
                        n_head=shape.d // 64, n_inner=4 * shape.d, activation_function="gelu",
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False,
                        bos_token_id=0, eos_token_id=0)
    config._attn_implementation = "sdpa"
    return GPT2LMHeadModel(config)


class Bench:
    """One model's training step, timed."""

    def __init__(self, model: torch.nn.Module, forward, device: torch.device, bf16: bool):
        self.model, self.forward, self.device, self.bf16 = model.to(device), forward, device, bf16
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
        self.seconds, self.steps = 0.0, 0

    def step(self, batch_BxT1: torch.Tensor, timed: bool) -> None:
        sync(self.device)
        start = time.perf_counter()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits_BxTxV = self.forward(batch_BxT1[:, :-1])
        loss = F.cross_entropy(logits_BxTxV.float().flatten(0, 1), batch_BxT1[:, 1:].flatten())
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        sync(self.device)
        if timed:
            self.seconds += time.perf_counter() - start
            self.steps += 1


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measured_peak(device: torch.device, bf16: bool) -> float:
    """FLOP/s of a large matmul in this precision on this device (best of a few)."""
    n = 8192 if device.type == "cuda" else 2048
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(5):
        sync(device)
        start = time.perf_counter()
        for _ in range(3):
            a @ b
        sync(device)
        best = max(best, 3 * 2 * n**3 / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shapes", default="256x4,256x8,512x4,512x8,1024x4,1024x8")
    parser.add_argument("--batch", type=int, default=0, help="sequences per step (0: 4 on CPU, 32 on CUDA)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--modes", default="eager,compiled")
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    batch = args.batch or (32 if device.type == "cuda" else 4)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    key = device_key(name) if device.type == "cuda" else None
    datasheet = peak_flops(key) if key else None
    print(f"device: {name}; torch {torch.__version__}; batch {batch} x seq {SEQ}; V {VOCAB}")
    print(f"{'shape':>9} {'mode':>8} {'prec':>5} {'ours tok/s':>11} {'ref tok/s':>10} {'ours/ref':>8} "
          f"{'TFLOP/s':>8} {'MFU meas':>8} {'MFU sheet':>9}")
    for precision in args.precisions.split(","):
        bf16 = precision == "bf16"
        peak = measured_peak(device, bf16)
        print(f"measured {precision} matmul peak: {peak / 1e12:.2f} TFLOP/s"
              + (f"; datasheet bf16 {datasheet / 1e12:.0f} TFLOP/s" if datasheet else ""))
        for shape_text in args.shapes.split(","):
            d, l = (int(x) for x in shape_text.split("x"))
            shape = TransformerShape(d=d, l=l, vocab_size=VOCAB, seq_len=SEQ, head_dim=64, mlp_ratio=4,
                                     rope_base=1e4)
            for mode in args.modes.split(","):
                torch.manual_seed(0)
                ours = Transformer(shape)
                ref = reference_model(shape)
                ours_forward, ref_forward = ours, (lambda x, m=ref: m(x).logits)
                compile_s = {}
                if mode == "compiled":
                    start = time.perf_counter()
                    ours.compile_blocks()
                    ref_compiled = torch.compile(ref)
                    ref_forward = lambda x, m=ref_compiled: m(x).logits  # noqa: E731
                    compile_s["setup"] = time.perf_counter() - start
                benches = {"ours": Bench(ours, ours_forward, device, bf16), "ref": Bench(ref, ref_forward, device, bf16)}
                batch_BxT1 = torch.randint(0, VOCAB, (batch, SEQ + 1), device=device)
                for which, bench in benches.items():
                    start = time.perf_counter()
                    for _ in range(args.warmup):
                        bench.step(batch_BxT1, timed=False)
                    compile_s[which] = time.perf_counter() - start
                for _ in range(args.steps):  # interleaved: machine noise hits both alike
                    for bench in benches.values():
                        bench.step(batch_BxT1, timed=True)
                rate = {k: b.steps * batch * SEQ / b.seconds for k, b in benches.items()}
                achieved = rate["ours"] * flops_per_token(shape)
                print(f"{shape_text:>9} {mode:>8} {precision:>5} {rate['ours']:11,.0f} {rate['ref']:10,.0f} "
                      f"{rate['ours'] / rate['ref']:8.2f} {achieved / 1e12:8.3f} {achieved / peak:8.1%} "
                      f"{(f'{achieved / datasheet:.1%}' if datasheet and bf16 else '-'):>9}"
                      f"   (warm-up s: ours {compile_s['ours']:.1f}, ref {compile_s['ref']:.1f})")
                del benches, ours, ref


if __name__ == "__main__":
    main()
