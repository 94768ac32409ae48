"""PNG charts of usage time series (matplotlib, headless Agg backend).

matplotlib is imported on first use: it costs about half a second, and most answers draw
nothing.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from tools.prometheus import Series


def usage_png(title: str, cpu: dict[str, Series], memory: dict[str, Series]) -> bytes:
    """Two stacked panels — CPU (cores) and memory (MiB) — one line per workload."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates
    from matplotlib import pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, dpi=100)
    try:
        for axes, panels, scale, label in ((top, cpu, 1.0, "CPU (cores)"),
                                           (bottom, memory, 2**20, "memory (MiB)")):
            for name, series in sorted(panels.items()):
                if series:
                    axes.plot([datetime.fromtimestamp(t, UTC) for t, _ in series],
                              [v / scale for _, v in series], label=name)
            axes.set_ylabel(label)
            axes.grid(alpha=0.3)
            if any(panels.values()):
                axes.legend(loc="upper left", fontsize="small")
        bottom.xaxis.set_major_formatter(dates.DateFormatter("%H:%M"))
        top.set_title(title)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
