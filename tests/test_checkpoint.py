"""sweep/run/checkpoint.py: atomic save, safe load, clear error on a damaged file."""

import errno
import os

import pytest
import torch

from model import Transformer, TransformerShape
from sweep.run.checkpoint import checkpoint_bytes, load_checkpoint, save_checkpoint, saved_at_or_past
from sweep.errors import ConfigError, StorageError

SHAPE = TransformerShape(d=16, l=1, vocab_size=11, seq_len=8, head_dim=8, mlp_ratio=4, rope_base=1e4)


def model_and_optimizer(seed: int):
    torch.manual_seed(seed)
    model = Transformer(SHAPE)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.zeros(1, 8, dtype=torch.long)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_round_trip_restores_model_optimizer_step_and_rng(tmp_path):
    path = tmp_path / "checkpoints" / "latest.pt"
    model, optimizer = model_and_optimizer(0)
    torch.manual_seed(123)
    save_checkpoint(path, model, optimizer, {"step": 17, "wall_seconds": 4.5})
    expected_draw = torch.rand(3)

    other, other_opt = model_and_optimizer(1)
    run_state = load_checkpoint(path, other, other_opt)
    assert run_state == {"step": 17, "wall_seconds": 4.5}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert other_opt.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    torch.testing.assert_close(torch.rand(3), expected_draw)
    assert [p.name for p in path.parent.iterdir()] == ["latest.pt"]


def test_the_file_keeps_the_layout_of_format_version_1_and_such_files_load(tmp_path):
    path = tmp_path / "latest.pt"
    model, optimizer = model_and_optimizer(0)
    save_checkpoint(path, model, optimizer, {"step": 5, "wall_seconds": 2.0, "losses": {"since_log": [], "recent": [3.0]}})
    saved = torch.load(path, weights_only=True)
    assert (saved["format_version"], saved["step"]) == (1, 5)
    assert saved["extra"] == {"wall_seconds": 2.0, "losses": {"since_log": [], "recent": [3.0]}}
    # as written before the run state was typed: no step timer in extra
    torch.save({**saved, "step": 9, "extra": {"wall_seconds": 7.5, "losses": {"since_log": [2.5], "recent": [2.5]}}},
               path)
    assert load_checkpoint(path, *model_and_optimizer(1)) == {
        "step": 9, "wall_seconds": 7.5, "losses": {"since_log": [2.5], "recent": [2.5]}}


def test_a_checkpoint_of_another_run_is_refused_naming_both_and_one_of_no_name_loads(tmp_path):
    """A trunk's checkpoint copied into a cosine run of the same shape resumed to another loss (5.4477 for
    its own 5.5370), with nothing said."""
    path = tmp_path / "latest.pt"
    model, optimizer = model_and_optimizer(0)
    save_checkpoint(path, model, optimizer, {"step": 5}, run="d16-wsd-trunk")
    assert torch.load(path, weights_only=True)["run"] == "d16-wsd-trunk"
    assert load_checkpoint(path, *model_and_optimizer(1), run="d16-wsd-trunk") == {"step": 5}
    with pytest.raises(ConfigError, match=r"checkpoint .*latest.pt was written by the run d16-wsd-trunk, not by "
                                          r"d16-cosine: copied in from another run; move it away"):
        load_checkpoint(path, *model_and_optimizer(1), run="d16-cosine")
    saved = torch.load(path, weights_only=True)
    torch.save({k: v for k, v in saved.items() if k != "run"}, path)  # written before checkpoints named their run
    assert load_checkpoint(path, *model_and_optimizer(1), run="d16-cosine") == {"step": 5}


def test_no_checkpoint_means_start_from_zero(tmp_path):
    model, optimizer = model_and_optimizer(0)
    assert load_checkpoint(tmp_path / "latest.pt", model, optimizer) is None


def test_a_damaged_checkpoint_is_a_clear_error_naming_the_file(tmp_path):
    path = tmp_path / "latest.pt"
    path.write_bytes(b"not a checkpoint")
    model, optimizer = model_and_optimizer(0)
    with pytest.raises(ConfigError, match="latest.pt cannot be loaded"):
        load_checkpoint(path, model, optimizer)


def test_a_checkpoint_garbled_in_place_is_refused_by_its_checksums_not_resumed_to_another_loss(tmp_path):
    path = tmp_path / "latest.pt"
    model, optimizer = model_and_optimizer(0)
    save_checkpoint(path, model, optimizer, {"step": 7})
    data = bytearray(path.read_bytes())
    middle = len(data) // 2  # inside the weights: the size and the zip's layout unchanged, torch.load took it
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=r"latest.pt is damaged: its record .* fails its CRC-32 check .* move it "
                                          r"away to restart the run from step 0, or put back a copy"):
        load_checkpoint(path, *model_and_optimizer(1))


def test_loading_runs_no_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "latest.pt"
    torch.save({"format_version": 1, "step": 0, "model": Evil()}, path)
    model, optimizer = model_and_optimizer(0)
    with pytest.raises(ConfigError, match="cannot be loaded"):
        load_checkpoint(path, model, optimizer)


def test_a_failed_write_names_the_file_and_the_free_space_and_the_previous_checkpoint_survives(
        tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "latest.pt"
    model, optimizer = model_and_optimizer(0)
    save_checkpoint(path, model, optimizer, {"step": 1})

    def disk_full(obj, f, *args, **kwargs):
        f.write(b"part of a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(StorageError, match=rf"cannot write {path}: \[Errno 28\] No space left on device; "
                                           r"[0-9.]+ [KMG]?i?B free on its file system"):
        save_checkpoint(path, model, optimizer, {"step": 2})
    monkeypatch.undo()
    assert [p.name for p in path.parent.iterdir()] == ["latest.pt"]  # the temporary file is removed
    assert load_checkpoint(path, *model_and_optimizer(1))["step"] == 1


def test_the_size_estimate_checked_before_the_first_step_is_a_checkpoint_without_its_small_headers(tmp_path):
    path = tmp_path / "latest.pt"
    model, optimizer = model_and_optimizer(0)
    save_checkpoint(path, model, optimizer, {"step": 1})
    assert checkpoint_bytes(model) <= path.stat().st_size < checkpoint_bytes(model) + 32 * 1024


def test_a_checkpoint_is_saved_at_or_past_a_step_only_where_a_readable_one_is_there(tmp_path):
    path = tmp_path / "latest.pt"
    assert not saved_at_or_past(path, 35)  # none: its write failed (a full disk)
    torch.save({"step": 34}, path)
    assert not saved_at_or_past(path, 35)
    torch.save({"step": 35}, path)
    assert saved_at_or_past(path, 35) and saved_at_or_past(path, 20)
    path.write_bytes(b"not a checkpoint")
    assert not saved_at_or_past(path, 35)  # damaged: its run's load names it
