"""The output head + next-token loss, forward and backward: whole logits against the chunked,
fused head + loss (sweep/run/loss.py, `train.loss_chunk_tokens`): time and peak memory.

    python benchmarks/chunked_loss.py [--d 512] [--batch 8] [--chunks 0,1024,4096] [--precisions fp32,bf16]
                                      [--steps 5] [--compiled]

At V = 32,101 and T = 512, for each precision (fp32, bf16 autocast) and each chunk size (0: the
whole logits, as `LogitsLoss`), each variant runs in its own process (so that its peak memory is
its own: the rise of ru_maxrss on a CPU, of max_memory_allocated on CUDA, over the passes) and
times `steps` forward + backward passes of hidden_NxD -> loss, after one warm-up pass; the hidden states and the head weight get
their gradients as in training. Prints seconds per pass, the peak memory above what the inputs
take, and both as ratios to the whole logits in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

V, T = 32101, 512


def one_variant(d: int, batch: int, chunk: int, bf16: bool, steps: int, compiled: bool) -> dict[str, float]:
    """Runs in its own process: seconds per pass and peak bytes above the inputs."""
    import torch

    from sweep.run.loss import linear_cross_entropy, next_token_loss

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    hidden_NxD = torch.randn(batch * T, d, device=device, requires_grad=True)
    weight_VxD = (torch.randn(V, d, device=device) * d**-0.5).requires_grad_()
    targets_N = torch.randint(0, V, (batch * T,), device=device)
    whole_loss = torch.compile(next_token_loss) if compiled else next_token_loss

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def one_pass() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            if chunk:
                loss = linear_cross_entropy(hidden_NxD, weight_VxD, targets_N, chunk, compiled)
            else:
                loss = whole_loss((hidden_NxD @ weight_VxD.T).view(batch, T, V), targets_N.view(batch, T))
        loss.backward()
        hidden_NxD.grad = weight_VxD.grad = None

    def peak_bytes() -> int:  # high-water mark: the process's resident memory on a CPU, allocations on CUDA
        if device.type == "cuda":
            return torch.cuda.max_memory_allocated()
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    sync()
    before = peak_bytes()  # the inputs, the libraries
    one_pass()  # warm-up
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        one_pass()
    sync()
    seconds = (time.perf_counter() - start) / steps
    peak = peak_bytes() - before
    return {"seconds": seconds, "peak_bytes": peak, "device": str(device)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--chunks", default="0,1024,4096")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--compiled", action="store_true", help="the softmax and loss compiled, as in a compiled run")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # internal: chunk,bf16 of one child process
    args = parser.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    if 0 not in chunks:  # the ratios are to the whole logits: measure them first, always
        chunks = [0, *chunks]
    if args.variant:
        chunk, bf16 = (int(x) for x in args.variant.split(","))
        print(json.dumps(one_variant(args.d, args.batch, chunk, bool(bf16), args.steps, args.compiled)))
        return
    base_cmd = [sys.executable, __file__, "--d", str(args.d), "--batch", str(args.batch), "--steps", str(args.steps),
                *(["--compiled"] if args.compiled else [])]
    print(f"head + loss, forward and backward: N = {args.batch} x {T} tokens, D = {args.d}, V = {V}"
          f"{', compiled' if args.compiled else ', eager'}")
    print(f"{'precision':>9} {'chunk':>6} {'ms/pass':>8} {'x whole':>7} {'peak MB':>8} {'x whole':>7}")
    for precision in args.precisions.split(","):
        whole = None  # the first row: the whole logits
        for chunk in sorted(chunks, key=lambda c: c != 0):  # the whole logits first
            out = subprocess.run([*base_cmd, "--variant", f"{chunk},{int(precision == 'bf16')}"], capture_output=True,
                                 text=True, check=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            whole = whole or row
            print(f"{precision:>9} {chunk or 'whole':>6} {row['seconds'] * 1e3:8.1f} {row['seconds'] / whole['seconds']:7.2f} "
                  f"{row['peak_bytes'] / 1e6:8.0f} {row['peak_bytes'] / whole['peak_bytes']:7.2f}", flush=True)


if __name__ == "__main__":
    main()
