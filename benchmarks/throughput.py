"""Training throughput and MFU of our model against a `transformers` GPT-2 of the same shape.

    python benchmarks/throughput.py [--shapes 256x4,512x4,...] [--batch 4] [--steps 3]
                                    [--modes eager,compiled] [--precisions fp32,bf16]
                                    [--chunk-tokens 8192] [--per-block-compile] [--pad-vocab 128]
                                    [--one-graph] [--autotune] [--plain-head] [--separate-qk] [--json FILE]
                                    [--profile FILE]
                                    [--startup]

For each shape (D x L, seq 512, V = 32,101) and each mode (eager, torch.compile of the whole model,
as a compiled run does) and precision (fp32, bf16 autocast), one
process times the training loop's own step (sweep/run/step.TrainStep: forward, fp32 loss, backward,
clipping, fused AdamW, the loss compiled in compiled mode) on each variant, interleaved, after
warm-up steps that also absorb compilation, and prints tokens/s, achieved model FLOP/s
(model/arithmetic.flops_per_token, the same formula for all), MFU against a peak measured in
the same run (a large matmul in that precision) and against the datasheet peak where known
(H100 SXM and H200 bf16 dense: 989 TFLOP/s), each variant / the reference, each one's first step
(compilation included), its peak memory on CUDA, and the time the reader takes to make one batch
(made on the prefetch thread while the previous step runs).

Variants: `ours` (the run's step: the whole fp32 logits), the reference `ref`, and with
`--chunk-tokens C` also `ours chunked` (the head and the loss fused C tokens at a time, no
whole logits: sweep/run/loss.py, `train.loss_chunk_tokens`), with `--per-block-compile` also
`ours per-block` (torch.compile of each block instead of the whole model, as runs did before an
H200 measured it 0.60x the whole model's speed; compiled mode only), with `--pad-vocab M` also
`ours padded V` (the embedding and head hold V rounded up to a multiple of M rows, as nanoGPT
pads 50,257 to 50,304: a matmul whose output has V = 32,101 columns, an odd row stride, cannot
use the aligned tensor-core kernels; FLOPs are still counted at the real V), with `--one-graph`
also `ours one graph` (the forward and the fp32 loss compiled as one function, so that Inductor
sees the logits' cast and softmax with the head that makes them; compiled mode only), and with
`--autotune` also `ours autotuned` (the whole model compiled with mode
"max-autotune-no-cudagraphs": Inductor times Triton templates against cuBLAS for each matmul;
compiled mode only; its compile takes minutes), and with `--plain-head` also `ours plain head`
(the head's matmul at V itself, not padded to a multiple of model.transformer.HEAD_ALIGN: as runs
were before the H200 measured it), and with `--separate-qk` also `ours separate qk` (the
QK-norm module, then rotary on its output, as the model was before an H200 measured
model.transformer.norm_and_rotate 1.04x faster).

`--batch 0` (the default): 4 sequences on a CPU; on CUDA the largest of 128, 64, 32, 16, 8 at
which one eager step of every variant fits in memory (the batch that fits).

`--profile FILE`: after the timed steps, 3 more steps of `ours` under torch.profiler, and FILE
gets where their time went: the share of the device's kernel time (the CPU's on a CPU) per kind
of kernel (matmul, attention, fused Triton, optimizer, other) and the 25 costliest kernels.

`--startup` also runs one real compiled training run (`python -m sweep.train`, D = 256, L = 4)
and prints what its result.json says: first step, compile, and process start to first step.

The reference is GPT2LMHeadModel (attn_implementation="sdpa", untied head, no dropout) with
n_embd = D, n_layer = L, n_head = D / 64, n_inner = 4 D, GELU. Differences that remain: GPT-2
has learned position embeddings instead of rotary, LayerNorm with biases instead of RMSNorm,
biases in every linear layer, no QK-norm.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import types
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from model import Transformer, TransformerShape
from model.transformer import apply_rotary
from model.arithmetic import device_key, flops_per_token, peak_flops
from sweep.config import OptimConfig
from sweep.run.device import Placement
from sweep.run.loss import LogitsLoss, step_loss
from sweep.run.optim import build_optimizer
from sweep.run.step import TrainStep
from sweep.run.throughput import measure_matmul_flops, sync

SEQ, VOCAB = 512, 32101
CUDA_BATCHES = (128, 64, 32, 16, 8)  # tried largest first when --batch 0 on CUDA


def reference_model(shape: TransformerShape) -> torch.nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=VOCAB, n_positions=SEQ, n_embd=shape.d, n_layer=shape.l,
                        n_head=shape.d // 64, n_inner=4 * shape.d, activation_function="gelu",
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False,
                        bos_token_id=0, eos_token_id=0)
    config._attn_implementation = "sdpa"
    return GPT2LMHeadModel(config)


@dataclass
class Variant:
    """One model and how its step runs: built fresh for each (shape, mode, precision)."""

    name: str
    model: torch.nn.Module
    loss_of_batch: Callable[[torch.Tensor], torch.Tensor]


def separate_qk_forward(self, x_BxTxD: torch.Tensor, cos_TxK2: torch.Tensor, sin_TxK2: torch.Tensor) -> torch.Tensor:
    """model.transformer.Attention.forward as it was before the H200 measured norm_and_rotate: the
    QK-norm module (nn.RMSNorm), then apply_rotary on its bf16 output (`--separate-qk`)."""
    B, T, D = x_BxTxD.shape
    qkv_BxTx3xHxK = self.qkv(x_BxTxD).view(B, T, 3, self.n_heads, self.head_dim)
    q_BxHxTxK, k_BxHxTxK, v_BxHxTxK = qkv_BxTx3xHxK.permute(2, 0, 3, 1, 4).unbind(0)
    q_BxHxTxK = apply_rotary(self.q_norm(q_BxHxTxK), cos_TxK2, sin_TxK2)
    k_BxHxTxK = apply_rotary(self.k_norm(k_BxHxTxK), cos_TxK2, sin_TxK2)
    y_BxHxTxK = F.scaled_dot_product_attention(q_BxHxTxK, k_BxHxTxK, v_BxHxTxK, is_causal=True)
    return self.out(y_BxHxTxK.transpose(1, 2).reshape(B, T, D))


def variants(shape: TransformerShape, placement: Placement, chunk_tokens: int, per_block: bool,
             pad_vocab: int = 0, one_graph: bool = False, autotune: bool = False,
             plain_head: bool = False, separate_qk: bool = False) -> list[Variant]:
    """ours, [ours chunked], [ours per-block], [ours padded V], [ours one graph], [ours autotuned],
    [ours plain head], [ours separate qk], ref: on the device, compiled as the mode says (ours as
    sweep/run/loop.py compiles a run's model: the whole forward, in place)."""
    found = []

    def fresh(of: TransformerShape = shape, before_compile: Callable[[Transformer], None] | None = None,
              compiled: bool = True) -> Transformer:
        """Our model with the seed-0 initialisation on the device, changed by `before_compile`, then
        compiled as a run compiles it where the mode compiles and `compiled`."""
        torch.manual_seed(0)
        model = Transformer(of).to(placement.device)
        if before_compile is not None:
            before_compile(model)
        if compiled and placement.compile:
            model.compile()
        return model

    def plain_variant(name: str, model: Transformer) -> Variant:
        return Variant(name, model, step_loss(model, placement, None))

    found.append(plain_variant("ours", fresh()))
    if chunk_tokens:
        chunked = fresh(compiled=False)
        found.append(Variant("ours chunked", chunked, step_loss(chunked, placement, chunk_tokens)))
    if per_block and placement.compile:
        blocks = fresh(compiled=False)
        for block in blocks.blocks:
            block.compile()
        found.append(Variant("ours per-block", blocks, LogitsLoss(blocks, placement.autocast, compile_loss=True)))
    if pad_vocab:  # the embedding and head rows rounded up (nanoGPT's 50,257 -> 50,304); the tokens stay < V
        padded_V = -(-shape.vocab_size // pad_vocab) * pad_vocab
        found.append(plain_variant("ours padded V", fresh(replace(shape, vocab_size=padded_V))))
    if one_graph and placement.compile:  # forward and loss in one torch.compile'd function
        whole = fresh(compiled=False)
        found.append(Variant("ours one graph", whole,
                             torch.compile(LogitsLoss(whole, placement.autocast, compile_loss=False))))
    if autotune and placement.compile:
        tuned = fresh(compiled=False)
        tuned.compile(mode="max-autotune-no-cudagraphs")
        found.append(plain_variant("ours autotuned", tuned))
    if plain_head:
        found.append(plain_variant("ours plain head", fresh(before_compile=lambda m: setattr(m, "head_align", 1))))
    if separate_qk:
        def separate(model: Transformer) -> None:
            for block in model.blocks:
                block.attn.forward = types.MethodType(separate_qk_forward, block.attn)
        found.append(plain_variant("ours separate qk", fresh(before_compile=separate)))
    ref = reference_model(shape).to(placement.device)
    ref_forward = torch.compile(ref) if placement.compile else ref
    found.append(Variant("ref", ref, LogitsLoss(lambda x, m=ref_forward: m(x).logits, placement.autocast,
                                                compile_loss=placement.compile)))
    return found


class Bench:
    """One variant's training step (the training loop's own), timed."""

    def __init__(self, variant: Variant, device: torch.device, optim: OptimConfig):
        self.name, self.device = variant.name, device
        self.step_fn = TrainStep(variant.loss_of_batch, variant.model, build_optimizer(variant.model, optim), optim)
        self.seconds, self.steps, self.first_step_seconds = 0.0, 0, None
        self.peak_bytes: int | None = None

    def step(self, batch_BxT1: torch.Tensor, timed: bool) -> None:
        sync(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        start = time.perf_counter()
        self.step_fn(batch_BxT1, lr=1e-4)
        sync(self.device)
        seconds = time.perf_counter() - start
        if self.device.type == "cuda":
            self.peak_bytes = max(self.peak_bytes or 0, torch.cuda.max_memory_allocated(self.device))
        if self.first_step_seconds is None:
            self.first_step_seconds = seconds
        if timed:
            self.seconds += seconds
            self.steps += 1


KERNEL_KINDS = (  # (kind, name fragments, lowercase): the first that matches names a kernel's kind
    ("attention", ("flash", "fmha", "attention", "sdpa")),
    ("matmul", ("gemm", "cutlass", "xmma", "nvjet", "cublas", "::mm", "addmm", "bmm", "matmul", "::linear")),
    ("optimizer", ("adam", "foreach", "multi_tensor", "clip")),
)


def kernel_kind(name: str) -> str:
    """matmul, attention, fused Triton, optimizer or other. Inductor's own kernels are named
    triton_* after the ops they fuse (which may include an attention op's layout copies): fused
    Triton, but for its matmul templates (triton_tem_*)."""
    low = name.lower()
    if low.startswith("triton_"):
        return "matmul" if low.startswith("triton_tem_") else "fused Triton"
    return next((kind for kind, parts in KERNEL_KINDS if any(part in low for part in parts)), "other")


def profile_steps(bench: "Bench", batch_BxT1: torch.Tensor, steps: int) -> str:
    """`steps` steps of `bench` under torch.profiler: each kind of kernel's share of the device's
    kernel time (the CPU's self time on a CPU), then the 25 costliest kernels, as text."""
    from torch.profiler import ProfilerActivity, profile

    cuda = bench.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            bench.step(batch_BxT1, timed=False)
    events = [e for e in prof.key_averages() if not e.key.startswith("ProfilerStep")]
    time_of = (lambda e: e.self_device_time_total) if cuda else (lambda e: e.self_cpu_time_total)
    if cuda:  # kernels only: an operator's (or a Triton launch's) own event carries its kernels' device
        # time as well, which counted each kernel twice (the H200's first profile: 270 ms a 137 ms step)
        from torch.autograd import DeviceType

        kernels = [e for e in events if time_of(e) > 0 and e.device_type == DeviceType.CUDA]
        events = kernels or [e for e in events if time_of(e) > 0]
    total = sum(time_of(e) for e in events) or 1.0
    by_kind: dict[str, float] = {}
    for event in events:
        by_kind[kernel_kind(event.key)] = by_kind.get(kernel_kind(event.key), 0.0) + time_of(event)
    lines = [f"{'device kernel' if cuda else 'CPU self'} time over {steps} steps: {total / 1e3:,.1f} ms "
             f"({total / 1e3 / steps:,.1f} ms a step)", "", f"{'kind':<14} {'share':>6} {'ms/step':>8}"]
    for kind, spent in sorted(by_kind.items(), key=lambda item: -item[1]):
        lines.append(f"{kind:<14} {spent / total:6.1%} {spent / 1e3 / steps:8.2f}")
    lines += ["", f"{'share':>6} {'ms/step':>8} {'calls':>6}  {'kind':<13} kernel"]
    for event in sorted(events, key=time_of, reverse=True)[:25]:
        lines.append(f"{time_of(event) / total:6.1%} {time_of(event) / 1e3 / steps:8.3f} {event.count // steps:6d}  "
                     f"{kernel_kind(event.key):<13} {event.key[:110]}")
    return "\n".join(lines) + "\n"


def batch_that_fits(shape: TransformerShape, device: torch.device, bf16: bool, chunk_tokens: int, pad_vocab: int,
                    optim: OptimConfig) -> int:
    """The largest of CUDA_BATCHES at which one eager step of each variant fits in memory."""
    placement = Placement(device=device, bf16=bf16, compile=False)
    for batch in CUDA_BATCHES:
        try:
            for variant in variants(shape, placement, chunk_tokens, per_block=False, pad_vocab=pad_vocab):
                Bench(variant, device, optim).step(torch.randint(0, VOCAB, (batch, SEQ + 1), device=device), timed=False)
                del variant
            return batch
        except torch.cuda.OutOfMemoryError:
            gc.collect()
            torch.cuda.empty_cache()
    raise SystemExit(f"not even {CUDA_BATCHES[-1]} sequences of {SEQ} tokens fit at D={shape.d}, L={shape.l}")


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
    import subprocess
    import sys
    import tempfile

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
    parser.add_argument("--batch", type=int, default=0,
                        help="sequences per step (0: 4 on a CPU; on CUDA the largest of 128, 64, 32, 16, 8 that fits)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--modes", default="eager,compiled")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--chunk-tokens", type=int, default=0,
                        help="also time our model with the head and loss fused this many tokens at a time")
    parser.add_argument("--per-block-compile", action="store_true",
                        help="also time our model with each block compiled instead of the whole (compiled mode)")
    parser.add_argument("--pad-vocab", type=int, default=0, metavar="M",
                        help="also time our model with V rounded up to a multiple of M (its embedding and head)")
    parser.add_argument("--one-graph", action="store_true",
                        help="also time our model with the forward and the loss compiled as one function")
    parser.add_argument("--autotune", action="store_true",
                        help="also time our model compiled with mode max-autotune-no-cudagraphs")
    parser.add_argument("--plain-head", action="store_true",
                        help="also time our model with the head's matmul at V itself (not padded)")
    parser.add_argument("--separate-qk", action="store_true",
                        help="also `ours separate qk`: the QK-norm module, then rotary (as before norm_and_rotate)")
    parser.add_argument("--json", type=Path, help="also write every row to this file")
    parser.add_argument("--startup", action="store_true", help="also time one real compiled run's start-up")
    parser.add_argument("--profile", type=Path, help="also profile 3 steps of ours (the last shape, mode and "
                        "precision) and write where the time went to this file")
    args = parser.parse_args()
    optim = default_optim()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    key = device_key(name) if device.type == "cuda" else None
    datasheet = peak_flops(key) if key else None
    print(f"device: {name}; torch {torch.__version__}; seq {SEQ}; V {VOCAB}")
    rows = []
    for precision in args.precisions.split(","):
        bf16 = precision == "bf16"
        peak = measure_matmul_flops(device, torch.bfloat16 if bf16 else torch.float32,
                                    n=8192 if device.type == "cuda" else 2048, seconds=2.0)
        print(f"measured {precision} matmul peak: {peak / 1e12:.2f} TFLOP/s"
              + (f"; datasheet bf16 {datasheet / 1e12:.0f} TFLOP/s" if datasheet else ""))
        print(f"{'shape':>9} {'batch':>5} {'mode':>8} {'prec':>5} {'variant':>12} {'tok/s':>10} {'/ref':>5} "
              f"{'TFLOP/s':>8} {'MFU meas':>8} {'MFU sheet':>9} {'1st step s':>10} {'peak GB':>7}")
        for shape_text in args.shapes.split(","):
            d, l = (int(x) for x in shape_text.split("x"))
            shape = TransformerShape(d=d, l=l, vocab_size=VOCAB, seq_len=SEQ, head_dim=64, mlp_ratio=4,
                                     rope_base=1e4)
            batch = args.batch or (batch_that_fits(shape, device, bf16, args.chunk_tokens, args.pad_vocab, optim)
                                   if device.type == "cuda" else 4)
            for mode in args.modes.split(","):
                placement = Placement(device=device, bf16=bf16, compile=mode == "compiled")
                benches = [Bench(v, device, optim)
                           for v in variants(shape, placement, args.chunk_tokens, args.per_block_compile,
                                             args.pad_vocab, args.one_graph, args.autotune, args.plain_head,
                                             args.separate_qk)]
                batch_BxT1 = torch.randint(0, VOCAB, (batch, SEQ + 1), device=device)
                failed = {}
                for bench in benches:
                    try:
                        for _ in range(args.warmup):
                            bench.step(batch_BxT1, timed=False)
                    except Exception as err:  # a variant that fails (compiling, out of memory) leaves the others measured
                        failed[bench.name] = " ".join(f"{type(err).__name__}: {err}".split())[:300]
                        print(f"{bench.name}: failed in its warm-up: {failed[bench.name]}", flush=True)
                        bench.step_fn = None
                        gc.collect()
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                working = [bench for bench in benches if bench.name not in failed]
                for _ in range(args.steps):  # interleaved: machine noise hits every variant alike
                    for bench in working:
                        bench.step(batch_BxT1, timed=True)
                ref = next((bench for bench in working if bench.name == "ref"), None)
                ref_rate = ref.steps * batch * SEQ / ref.seconds if ref else None
                for bench in benches:
                    row = {"shape": shape_text, "d": d, "l": l, "batch": batch, "seq": SEQ, "vocab": VOCAB,
                           "mode": mode, "precision": precision, "variant": bench.name, "device": name,
                           "torch": torch.__version__, "error": failed.get(bench.name)}
                    if bench.name in failed:
                        rows.append(row)
                        continue
                    rate = bench.steps * batch * SEQ / bench.seconds
                    achieved = rate * flops_per_token(shape)  # the reference's shape is ours: same formula
                    row |= {"tokens_per_second": rate, "ratio_to_ref": rate / ref_rate if ref_rate else None,
                            "model_tflops": achieved / 1e12, "mfu_measured_peak": achieved / peak,
                            "measured_peak_tflops": peak / 1e12,
                            "mfu_datasheet": achieved / datasheet if datasheet and bf16 else None,
                            "first_step_seconds": bench.first_step_seconds,
                            "peak_memory_gb": bench.peak_bytes / 1e9 if bench.peak_bytes else None}
                    rows.append(row)
                    sheet = f"{row['mfu_datasheet']:.1%}" if row["mfu_datasheet"] is not None else "-"
                    memory = f"{row['peak_memory_gb']:.1f}" if row["peak_memory_gb"] is not None else "-"
                    ratio = f"{row['ratio_to_ref']:5.2f}" if ref_rate else "    -"
                    print(f"{shape_text:>9} {batch:>5} {mode:>8} {precision:>5} {bench.name:>12} {rate:10,.0f} "
                          f"{ratio} {achieved / 1e12:8.3f} {achieved / peak:8.1%} {sheet:>9} "
                          f"{bench.first_step_seconds:10.1f} {memory:>7}", flush=True)
                if args.json:  # after every shape: a run cut short keeps what it measured
                    args.json.write_text(json.dumps(rows, indent=1) + "\n")
                ours = next((bench for bench in working if bench.name == "ours"), None)
                if args.profile and ours:  # rewritten for each: the last one stays
                    spent = profile_steps(ours, batch_BxT1, 3)
                    args.profile.write_text(f"{shape_text} batch {batch} {mode} {precision} ours, {name}, torch "
                                            f"{torch.__version__}\n\n{spent}")
                    print(f"where {shape_text} {mode} {precision} ours spends a step:\n{spent}", flush=True)
                del benches, batch_BxT1
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    print(f"reader: {reader_seconds_per_batch(4) * 1e3:.1f} ms to make one batch of 4 (on the prefetch thread)")
    if any(row["error"] for row in rows):
        raise SystemExit("some variants failed: see their lines above (and `error` in the JSON rows)")
    if args.startup:
        startup_run()


if __name__ == "__main__":
    main()
