"""Batches made ahead of the step that uses them, so data loading overlaps with compute.

A background thread gathers the next `depth` batches from the memory-mapped tokens (numpy and
torch release the GIL while copying), in pinned memory when the run is on a GPU; the training
loop takes them in step order and copies each to the device without blocking. The batches are
exactly `reader.batch(step)` for each step: prefetching changes when a batch is made, never
which.
"""

from __future__ import annotations

import queue
import threading

import torch

from sweep.data.reader import TrainReader


class Prefetcher:
    """`take(step)`: the batch of step `step` on `device`, for steps first, first + 1, ..., end - 1
    taken in order. Use as a context manager (the thread stops on exit)."""

    def __init__(self, reader: TrainReader, first: int, end: int, device: torch.device, depth: int = 2):
        self.reader, self.next_step, self.end, self.device = reader, first, end, device
        self._pin = device.type == "cuda"
        self._ready: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(first,), name="batch-prefetch",
                                        daemon=True)

    def __enter__(self) -> Prefetcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self._ready.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)

    def _produce(self, step: int) -> None:
        while step < self.end and not self._stop.is_set():
            try:
                batch_BxT1 = self.reader.batch(step)
                item = (step, batch_BxT1.pin_memory() if self._pin else batch_BxT1)
            except BaseException as err:  # handed to the training loop, which raises it
                item = (step, err)
            while not self._stop.is_set():
                try:
                    self._ready.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item[1], BaseException):
                return
            step += 1

    def take(self, step: int) -> torch.Tensor:
        """int64 (B, S + 1) batch of step `step`, on the device."""
        if step != self.next_step or step >= self.end:
            raise ValueError(f"step {step} taken out of order: expected {self.next_step} (< {self.end})")
        made_for, batch_BxT1 = self._ready.get()
        if isinstance(batch_BxT1, BaseException):
            raise batch_BxT1
        assert made_for == step, (made_for, step)
        self.next_step += 1
        return batch_BxT1.to(self.device, non_blocking=True)
