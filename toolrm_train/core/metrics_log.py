"""Training metrics: JSONL always, a rich console view, TensorBoard / W&B when asked and installed.

``output_dir/metrics.jsonl`` holds one JSON object per logged step (``{"step": …, "time": …,
<metric>: <float>, …}``), flushed as it is written, so a killed run keeps every line before the
kill. On resume the file is cut back to the resumed step (lines past it belong to steps the
resumed run will redo), so the file always describes one continuous run. Only the main process
writes or prints; other ranks' loggers are silent (reduce metrics over ranks before logging).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from harness_tasks.atomic_files import write_atomically
from harness_tasks.input_boundary import UnreadableJSON, iter_lines, loads_json
from toolrm_train.core.config import TrainerConfig, config_to_dict
from toolrm_train.core.distributed import DistEnv


logger = logging.getLogger("toolrm_train.metrics")

METRICS_FILE = "metrics.jsonl"


def _as_float(value: Any) -> float:
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


def _format(name: str, value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return f"{name} {value}"
    if name in ("lr", "learning_rate") or (value != 0 and abs(value) < 1e-3):
        return f"{name} {value:.3e}"
    if float(value).is_integer() and abs(value) < 1e9:
        return f"{name} {int(value)}"
    return f"{name} {value:.4f}"


def truncate_metrics(path: Path, last_step: int) -> int:
    """Keep the lines of ``path`` with ``step <= last_step`` (and drop a torn last line); atomic.

    Returns how many lines were kept.
    """
    if not path.is_file():
        return 0
    kept = []
    for _, raw in iter_lines(path.read_bytes()):
        try:
            record = loads_json(raw)
        except UnreadableJSON:
            continue  # a line cut by a kill (even inside a multi-byte character)
        line = raw.decode("utf-8")
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= last_step:
            kept.append(line)
    write_atomically(path, "".join(f"{line}\n" for line in kept))
    return len(kept)


class MetricsLogger:
    """Write step metrics to every configured sink.

    ``total_steps`` (optional) drives a progress bar; ``resume_step`` (the checkpoint's step on
    ``--resume``) keeps metrics.jsonl up to that step, otherwise a fresh file is started.
    """

    def __init__(
        self,
        config: TrainerConfig,
        env: DistEnv,
        *,
        total_steps: int | None = None,
        resume_step: int | None = None,
        console: Console | None = None,
    ) -> None:
        self.env = env
        self.enabled = env.is_main
        self.path = Path(config.output_dir) / METRICS_FILE
        self.total_steps = total_steps
        self._tb: Any = None
        self._wandb: Any = None
        self._progress: Any = None
        self._task: Any = None
        self._start = time.time()
        if not self.enabled:
            return
        self.console = console or Console(stderr=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            kept = truncate_metrics(self.path, resume_step)
            logger.info("metrics.jsonl: kept %d lines up to step %d", kept, resume_step)
        else:
            self.path.write_text("", encoding="utf-8")
        self._file = self.path.open("a", encoding="utf-8")
        self._open_sinks(config, resume=resume_step is not None)
        if total_steps:
            from harness_tasks.progress import progress_bars

            self._progress = progress_bars(self.console, label="train ")
            self._progress.start()
            self._task = self._progress.add_task("steps", total=total_steps, completed=resume_step or 0)

    def _open_sinks(self, config: TrainerConfig, *, resume: bool) -> None:
        if "tensorboard" in config.report_to:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(Path(config.output_dir) / "tensorboard"))
            except ImportError:
                logger.warning(
                    "report_to lists 'tensorboard' but it is not installed: pip install tensorboard"
                )
        if "wandb" in config.report_to:
            try:
                import wandb
            except ImportError:
                logger.warning("report_to lists 'wandb' but it is not installed: pip install wandb")
            else:
                id_file = Path(config.output_dir) / "wandb_run_id.txt"
                run_id = (
                    id_file.read_text().strip() if resume and id_file.is_file() else wandb.util.generate_id()
                )
                id_file.write_text(run_id)
                self._wandb = wandb.init(
                    project=os.environ.get("WANDB_PROJECT", "toolrm"),
                    name=Path(config.output_dir).name,
                    id=run_id,
                    resume="allow",
                    dir=config.output_dir,
                    config=config_to_dict(config),
                )

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Record ``metrics`` (numbers or 0-d tensors) for optimiser step ``step``."""
        if not self.enabled:
            return
        values = {name: _as_float(value) for name, value in metrics.items()}
        record = {"step": step, "time": round(time.time() - self._start, 3), **values}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            for name, value in values.items():
                self._tb.add_scalar(name, value, step)
        if self._wandb is not None:
            self._wandb.log(values, step=step)
        total = f"/{self.total_steps}" if self.total_steps else ""
        line = f"step {step}{total} | " + " | ".join(_format(k, v) for k, v in values.items())
        if self._progress is not None:
            self._progress.console.print(line)
            self._progress.update(self._task, completed=step)
        else:
            self.console.print(line)

    def close(self) -> None:
        """Flush and close every sink (call in a ``finally``)."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if not self._file.closed:
            self._file.close()
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
