"""Loss curves from a run's ``log.jsonl`` as a PNG (needs matplotlib: the ``plot`` extra)."""
from __future__ import annotations

import json
from pathlib import Path

PANELS = (("loss_G", "loss_D"), ("loss_pose", "loss_Phi"), ("loss_content", "loss_style", "loss_colour"))


def read_log(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no log.jsonl here")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise ValueError(f"{path} line {n}: not a JSON object") from None
    return rows


def plot_losses(log_path: str | Path, out_png: str | Path) -> Path:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from poseshift.extras import missing_extra

        raise missing_extra("plotting", "plot") from None
    rows = read_log(log_path)
    if not rows:
        raise ValueError(f"{log_path}: the log is empty")
    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.2))
    for ax, keys in zip(axes, PANELS):
        for key in keys:
            values = [r.get(key) for r in rows]
            if any(values):  # a term the run never used is logged as 0 (no line on a log axis)
                ax.plot(steps, values, label=key)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        if ax.lines:  # a panel none of whose terms the run used stays empty, without a warning
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(str(Path(log_path).parent.name), fontsize=9)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
