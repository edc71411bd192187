"""Training throughput and MFU of our model against a `transformers` GPT-2 of the same shape.

    python benchmarks/throughput.py [--shapes 256x4,512x4,...] [--batch 4] [--steps 3]
                                    [--modes eager,compiled] [--precisions fp32,bf16] [--startup]

For each shape (D x L, seq 512, V = 32,101) and each mode (eager, torch.compile: our model
compiles each block, the reference the whole model) and precision (fp32, bf16 autocast), one
process times the training loop's own step (sweep/run/step.TrainStep: forward, fp32 loss, backward,
clipping, fused AdamW, the loss compiled in compiled mode) on both models, interleaved, after
warm-up steps that also absorb compilation, and prints tokens/s, achieved model FLOP/s
(model/arithmetic.flops_per_token, the same formula for both), MFU against a peak measured in
the same run (a large matmul in that precision) and against the datasheet peak where known
(H100 SXM bf16 dense: 989 TFLOP/s), ours / reference, each model's first step (compilation
included) and the time the reader takes to make one batch (made on the prefetch thread while
the previous step runs).

`--startup` also runs one real compiled training run (`python -m sweep.train`, D = 256, L = 4)
and prints what its result.json says: first step, compile, and process start to first step.

The reference is GPT2LMHeadModel (attn_implementation="sdpa", untied head, no dropout) with
n_embd = D, n_layer = L, n_head = D / 64, n_inner = 4 D, GELU. Differences that remain: GPT-2
has learned position embeddings instead of rotary, LayerNorm with biases instead of RMSNorm,
biases in every linear layer, no QK-norm.
"""

from __future__ import annotations

import argparse
import time

import torch

from model import Transformer, TransformerShape
from model.arithmetic import device_key, flops_per_token, peak_flops
from sweep.config import OptimConfig
from sweep.run.device import Placement
from sweep.run.optim import build_optimizer
from sweep.run.step import TrainStep
from sweep.run.throughput import measure_matmul_flops, sync

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
    """One model's training step (the training loop's own), timed."""

    def __init__(self, model: torch.nn.Module, forward, placement: Placement, optim: OptimConfig):
        model = model.to(placement.device)
        self.device = placement.device
        self.step_fn = TrainStep(forward, model, build_optimizer(model, optim), placement, optim)
        self.seconds, self.steps, self.first_step_seconds = 0.0, 0, None

    def step(self, batch_BxT1: torch.Tensor, timed: bool) -> None:
        sync(self.device)
        start = time.perf_counter()
        self.step_fn(batch_BxT1, lr=1e-4)
        sync(self.device)
        seconds = time.perf_counter() - start
        if self.first_step_seconds is None:
            self.first_step_seconds = seconds
        if timed:
            self.seconds += seconds
            self.steps += 1


def default_optim() -> OptimConfig:
    """The config tree's AdamW settings (conf/train.yaml)."""
    from hydra import compose, initialize_config_dir

    from launch.grid import CONF_DIR
    from sweep.config import to_typed

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return to_typed(compose("train")).optim


def reader_seconds_per_batch(batch: int) -> float:
    """Time TrainReader takes to make one batch (batch x seq + 1) from a memory-mapped corpus."""
    import tempfile

    import numpy as np

    from sweep.data import TrainReader

    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        np.random.default_rng(0).integers(0, VOCAB, 20_000_000, dtype=np.uint16).tofile(f.name)
        reader = TrainReader(np.memmap(f.name, dtype=np.uint16, mode="r"), SEQ, batch, seed=0)
        reader.batch(0)
        start = time.perf_counter()
        for step in range(1, 21):
            reader.batch(step)
        return (time.perf_counter() - start) / 20


def startup_run() -> None:
    """One real compiled run; prints the timings its result.json records."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    out = tempfile.mkdtemp(prefix="startup-bench-")
    overrides = ["model.d=256", "model.l=4", "model.seq_len=512", "train.batch_size=4", "train.compile=true",
                 "budget.tokens_per_param=0.05", "data.eval_tokens=20000", "logger=none", f"out_dir={out}"]
    start = time.time()
    subprocess.run([sys.executable, "-m", "sweep.train", *overrides], check=True, capture_output=True)
    wall = time.time() - start
    (result_file,) = Path(out).glob("*/result.json")
    result = json.loads(result_file.read_text())
    print(f"startup run ({' '.join(overrides[:6])}; {result['steps']} steps): process start -> first step done "
          f"{result['startup_seconds']:.1f} s, first step {result['first_step_seconds']:.1f} s, of which compile "
          f"{result['compile_seconds']:.1f} s; steady {result['train_tokens_per_second']:,.0f} tokens/s, "
          f"MFU {result['mfu']:.1%} of {result['peak_flops'] / 1e12:.2f} TFLOP/s ({result['peak_flops_source']}); "
          f"whole command {wall:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shapes", default="256x4,256x8,512x4,512x8,1024x4,1024x8")
    parser.add_argument("--batch", type=int, default=0, help="sequences per step (0: 4 on CPU, 32 on CUDA)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--modes", default="eager,compiled")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--startup", action="store_true", help="also time one real compiled run's start-up")
    args = parser.parse_args()
    optim = default_optim()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    batch = args.batch or (32 if device.type == "cuda" else 4)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    key = device_key(name) if device.type == "cuda" else None
    datasheet = peak_flops(key) if key else None
    print(f"device: {name}; torch {torch.__version__}; batch {batch} x seq {SEQ}; V {VOCAB}")
    print(f"reader: {reader_seconds_per_batch(batch) * 1e3:.1f} ms to make one batch (on the prefetch thread)")
    print(f"{'shape':>9} {'mode':>8} {'prec':>5} {'ours tok/s':>11} {'ref tok/s':>10} {'ours/ref':>8} "
          f"{'TFLOP/s':>8} {'MFU meas':>8} {'MFU sheet':>9}")
    for precision in args.precisions.split(","):
        bf16 = precision == "bf16"
        peak = measure_matmul_flops(device, torch.bfloat16 if bf16 else torch.float32,
                                    n=8192 if device.type == "cuda" else 2048, seconds=2.0)
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
                if mode == "compiled":
                    ours.compile_blocks()
                    ref_compiled = torch.compile(ref)
                    ref_forward = lambda x, m=ref_compiled: m(x).logits  # noqa: E731
                placement = Placement(device=device, bf16=bf16, compile=mode == "compiled")
                benches = {"ours": Bench(ours, ours_forward, placement, optim),
                           "ref": Bench(ref, ref_forward, placement, optim)}
                batch_BxT1 = torch.randint(0, VOCAB, (batch, SEQ + 1), device=device)
                for bench in benches.values():
                    for _ in range(args.warmup):
                        bench.step(batch_BxT1, timed=False)
                for _ in range(args.steps):  # interleaved: machine noise hits both alike
                    for bench in benches.values():
                        bench.step(batch_BxT1, timed=True)
                rate = {k: b.steps * batch * SEQ / b.seconds for k, b in benches.items()}
                achieved = rate["ours"] * flops_per_token(shape)
                print(f"{shape_text:>9} {mode:>8} {precision:>5} {rate['ours']:11,.0f} {rate['ref']:10,.0f} "
                      f"{rate['ours'] / rate['ref']:8.2f} {achieved / 1e12:8.3f} {achieved / peak:8.1%} "
                      f"{(f'{achieved / datasheet:.1%}' if datasheet and bf16 else '-'):>9}"
                      f"   (first step s: ours {benches['ours'].first_step_seconds:.1f}, "
                      f"ref {benches['ref'].first_step_seconds:.1f})")
                del benches, ours, ref
    if args.startup:
        startup_run()


if __name__ == "__main__":
    main()
