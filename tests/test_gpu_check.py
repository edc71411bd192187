"""benchmarks/gpu_check.sh: its --cpu mode runs every check end to end on this CPU (what needs
CUDA skipped), writes what it measured and prints the summary table last."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.helpers import REPO

FILES = {"gpu_check.log", "summary.md", "summary.json", "throughput_1024x8.json", "profile_1024x8.txt",
         "throughput_2048x16.json", "train_result.json", "train_metrics.jsonl"}  # the device tool brings 8 back
CHECKS = ["packages", "cuda tests", "throughput D=1024 L=8", "training run D=1024 L=8", "throughput D=2048 L=16"]


@pytest.fixture(scope="module")
def cpu_check(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--cpu", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    return done, out


def test_the_cpu_mode_passes_every_check_and_prints_the_summary_table_last(cpu_check):
    done, out = cpu_check
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout.rstrip().splitlines()[-len(CHECKS):]
    assert [row.split(" | ")[0].strip("| ") for row in table] == CHECKS
    assert all(row.split(" | ")[1] == "passed" for row in table), table
    assert (out / "summary.md").read_text().rstrip().endswith(table[-1])


def test_the_cpu_mode_writes_what_it_measured(cpu_check):
    _, out = cpu_check
    assert {p.name for p in out.iterdir()} == FILES
    checks = {c["name"]: c for c in json.loads((out / "summary.json").read_text())["checks"]}
    assert checks["cuda tests"]["figures"] == {"skipped": 5}
    assert "no CUDA device" in checks["cuda tests"]["note"]
    rows = json.loads((out / "throughput_1024x8.json").read_text())
    assert [r["variant"] for r in rows] == ["ours", "ours chunked", "ours padded V", "ref"]
    assert all(r["tokens_per_second"] > 0 and r["vocab"] == 32101 and r["seq"] == 512 for r in rows)
    result = json.loads((out / "train_result.json").read_text())
    assert result["status"] == "complete" and result["vocab_size"] == 32101
    assert checks["training run D=1024 L=8"]["figures"]["train_tokens_per_second"] == result["train_tokens_per_second"] > 0
    assert "gpu_check --cpu" in (out / "gpu_check.log").read_text().splitlines()[0]
    profile = (out / "profile_1024x8.txt").read_text()
    assert "64x2 batch 2 eager fp32 ours" in profile.splitlines()[0]
    assert "CPU self time over 3 steps" in profile and "matmul" in profile


def load_gpu_check(monkeypatch):
    """benchmarks/gpu_check.py imported as the module `gpu_check` (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", module)
    spec.loader.exec_module(module)
    return module


def test_missing_packages_without_wheels_stop_the_check_at_once_naming_what_to_run(tmp_path, monkeypatch, capsys):
    gpu_check = load_gpu_check(monkeypatch)
    monkeypatch.setattr(gpu_check, "NEEDED", ("hydra", "not_a_package_here"))
    monkeypatch.setattr(gpu_check, "WHEELS", tmp_path / "no-wheels")
    assert gpu_check.main(["--cpu", "--out", str(tmp_path / "out")]) == 1
    checks = json.loads((tmp_path / "out" / "summary.json").read_text())["checks"]
    assert [c["status"] for c in checks] == ["failed"] + ["not run"] * 4
    assert "not_a_package_here missing" in checks[0]["note"]
    assert "bash benchmarks/fetch_gpu_wheels.sh" in checks[0]["note"]
    assert capsys.readouterr().out.rstrip().endswith("| throughput D=2048 L=16 | not run | 0 |  |")


def test_skipped_checks_are_left_out_and_the_others_run_in_their_order(tmp_path, monkeypatch, capsys):
    gpu_check = load_gpu_check(monkeypatch)
    ran = []

    def stand_in(name):
        def check(settings, check, timeout):
            ran.append(name)
            check.status = "passed"
        return check

    monkeypatch.setattr(gpu_check, "CHECKS", [(name, stand_in(name), most, kept_back)
                                              for name, _, most, kept_back in gpu_check.CHECKS])
    assert gpu_check.main(["--cpu", "--out", str(tmp_path), "--skip", "throughput2048", "cuda"]) == 0
    assert ran == ["packages", "throughput D=1024 L=8", "training run D=1024 L=8"]
    checks = json.loads((tmp_path / "summary.json").read_text())["checks"]
    assert [c["name"] for c in checks] == ran
    with pytest.raises(SystemExit):
        gpu_check.main(["--cpu", "--out", str(tmp_path), "--skip", "throughput4096"])
    assert "invalid choice: 'throughput4096'" in capsys.readouterr().err


@pytest.mark.parametrize("kernel, kind", [
    ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64", "matmul"),  # cuBLAS
    ("nvjet_tst_256x128_64x4_1x2_h_bz_coopA_NTN", "matmul"),
    ("triton_tem_fused_mm_0", "matmul"),  # Inductor's matmul template
    ("aten::mm", "matmul"),  # a CPU profile's operator
    ("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<64>>", "attention"),
    ("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_3", "attention"),
    ("triton_poi_fused__scaled_dot_product_flash_attention_transpose_3", "fused Triton"),  # a layout copy
    ("triton_per_fused__to_copy_add_mean_mul_pow_rsqrt_0", "fused Triton"),
    ("void at::native::multi_tensor_apply_kernel<FusedAdamMathFunctor>", "optimizer"),
    ("Memcpy HtoD (Pageable -> Device)", "other"),
])
def test_the_profile_sorts_kernels_by_kind(kernel, kind, monkeypatch):
    spec = importlib.util.spec_from_file_location("throughput_bench", REPO / "benchmarks" / "throughput.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "throughput_bench", module)
    spec.loader.exec_module(module)
    assert module.kernel_kind(kernel) == kind
