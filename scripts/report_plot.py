"""The demo's picture: request rate, error ratio, p95 latency and the anomaly score, with faults and alerts shaded.

Like the original's figures, one shared time axis (minutes since the demo started):
injected faults are shaded in orange on every panel, the anomaly alert's firing time in
red on the score panel, and phase names are written along the top.

    python -m scripts.report_plot out/demo   # redraw report.png from series.json and summary.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ANOMALY_ALERT = "VigilanteAnomalyDetected"


def plot_report(series: dict[str, list[list[float]]], summary: dict[str, Any], path: Path) -> None:
    """Draw the four panels into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed on a server
    import matplotlib.pyplot as plt

    phases = summary.get("phases", [])
    t0 = phases[0]["start"] if phases else min((p[0] for s in series.values() for p in s), default=0.0)

    def xy(name: str, scale: float = 1.0) -> tuple[list[float], list[float]]:
        points = series.get(name) or []
        return [(t - t0) / 60 for t, _ in points], [v * scale for _, v in points]

    fig, axes = plt.subplots(4, 1, figsize=(12, 10), sharex=True, constrained_layout=True)
    panels = [
        (axes[0], "Requests per second", [("requests", 1.0, "requests/s", "tab:blue")], "req/s"),
        (axes[1], "Server errors (5xx)", [("error_ratio", 100.0, "error ratio", "tab:red")], "% of requests"),
        (axes[2], "Latency p95", [("p95", 1000.0, "p95", "tab:purple")], "ms"),
        (axes[3], "Anomaly score", [("score", 1.0, "score", "tab:green"),
                                    ("threshold", 1.0, "threshold", "black")], "score"),
    ]
    for ax, title, lines, unit in panels:
        for name, scale, label, color in lines:
            x, y = xy(name, scale)
            style = "--" if name == "threshold" else "-"
            ax.plot(x, y, style, color=color, label=label, linewidth=1.6)
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        if name == "threshold":
            # Scores span decades (about 1 in steady traffic, tens in an incident): a log axis keeps
            # the threshold and the steady level readable next to the peak.
            ax.set_yscale("log")
            ax.set_ylabel("score (log scale)")
        else:
            ax.set_ylim(bottom=0)
    fault_label = True
    for phase in phases:
        if phase.get("fault"):
            for ax in axes:
                ax.axvspan((phase["start"] - t0) / 60, (phase["end"] - t0) / 60, color="orange", alpha=0.2,
                           label="injected fault" if fault_label and ax is axes[0] else None)
            fault_label = False
    alert_label = True
    for alert in summary.get("alerts_firing", []):
        if alert["alertname"] != ANOMALY_ALERT:
            continue
        axes[3].axvspan((alert["start"] - t0) / 60, (alert["end"] - t0) / 60, color="red", alpha=0.25,
                        label=f"{ANOMALY_ALERT} firing" if alert_label else None)
        alert_label = False
    marks = {"notification_received": ("red", "notification"),
             "resolved_notification_received": ("green", "resolved notification")}
    labelled = set()
    for incident in summary.get("incidents", []):
        for key, (color, what) in marks.items():
            if incident.get(key):
                for ax in axes:
                    label = f"{what} received" if ax is axes[3] and key not in labelled else None
                    ax.axvline((incident[key] - t0) / 60, color=color, linewidth=1.2, linestyle=":", label=label)
                labelled.add(key)
    top = axes[0]
    for phase in phases:
        if phase["name"] == "scorer start":
            continue
        middle = ((phase["start"] + phase["end"]) / 2 - t0) / 60
        top.annotate(phase["name"], (middle, 0.97), xycoords=("data", "axes fraction"), ha="center", va="top",
                     fontsize=8, color="dimgray")
        for ax in axes:
            ax.axvline((phase["start"] - t0) / 60, color="gray", linewidth=0.5, alpha=0.6)
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="center left", fontsize=8)
    axes[3].set_xlabel("minutes since the demo started")
    settings = summary.get("settings", {}).get("intervals_used", {})
    figures = ", ".join(f"{i['name']} {i['seconds_to_notification'] if i.get('seconds_to_notification') is not None else '-'} s"
                        for i in summary.get("incidents", []))
    fig.suptitle(f"Vigilante demo: onset -> notification: {figures or '-'} "
                 f"(scrape/eval/tick {settings.get('scrape_interval_seconds', '?'):g} s)", fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    outdir = Path((argv or sys.argv[1:] or ["out/demo"])[0])
    series = json.loads((outdir / "series.json").read_text())
    summary = json.loads((outdir / "summary.json").read_text())
    plot_report(series, summary, outdir / "report.png")
    print(outdir / "report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
