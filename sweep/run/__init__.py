"""One training run: the loop (loop.py) and its parts: its state (state.py), one optimizer step
(step.py), AdamW and the schedule (optim.py), checkpoints, device and precision, data parallel,
pre-emption signals, throughput and MFU, progress lines."""
