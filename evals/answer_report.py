"""The answer-quality report (evals/answers.py): report.md with the tables, accuracy.png with the chart."""

from __future__ import annotations

import json
from pathlib import Path

from evals.metrics import DOMAINS


def _pct(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def _ci(cell: dict) -> str:
    ci = cell.get("ci95")
    return f"{_pct(cell.get('accuracy'))} [{ci[0]:.0%}–{ci[1]:.0%}]" if ci else _pct(cell.get("accuracy"))


def markdown(report: dict, chart_name: str = "accuracy.png") -> str:
    conditions = report["conditions"]
    lines = [
        "# Answer quality: cooperation vs single models vs perfect routing", "",
        f"Profile `{report['profile']}`, {report['questions']} multiple-choice questions "
        f"({report['languages'].get('en', 0)} English, {report['languages'].get('es', 0)} Spanish); "
        f"chance level {_pct(report['chance'])}. The router was refitted without these questions "
        f"({report['training']['left_out_overlap']} training rows left out).", "",
        f"![accuracy per domain]({chart_name})", "",
        "Accuracy with its 95% Wilson interval.", "",
        "| condition | all | " + " | ".join(DOMAINS) + " | en | es | s/question | calls/question | swaps/question "
        "| unreadable |",
        "|---|---|" + "---|" * len(DOMAINS) + "---|---|---|---|---|---|",
    ]
    for name, c in conditions.items():
        per_d, per_l = c["per_domain"], c["per_language"]
        lines.append(f"| {name} | {_ci(c)} (n={c['n']}) | "
                     + " | ".join(_ci(per_d.get(d, {})) for d in DOMAINS) + " | "
                     + " | ".join(_ci(per_l.get(lang, {})) for lang in ("en", "es"))
                     + f" | {c['seconds_per_question']} | {c.get('calls_per_question', '–')} | "
                       f"{c['swaps_per_question']} | {c['unreadable']} |")
    graph = conditions.get("graph", {})
    if graph:
        oracle = report.get("oracle_minus_graph")
        lines += ["", f"- Graph minus the best single model ({report.get('best_single')}): "
                      f"{report['graph_minus_best_single']:+.3f} (per language: "
                      + ", ".join(f"{g} {v:+.3f}" for g, v in report.get("graph_minus_best_single_per_language",
                                                                           {}).items())
                      + f"), at {report.get('graph_seconds_ratio')}× its seconds"
                      + (f"; oracle routing minus the graph: {oracle:+.3f}." if oracle is not None else "."),
                  f"- The graph routed {_pct(graph.get('routing_accuracy'))} of the questions to their true domain.",
                  f"- Steps: {report.get('steps')}; vote: {report.get('vote', {}).get('n')} answers "
                  f"({report.get('vote', {}).get('note')})."]
    review = report.get("reviewer") or {}
    if not review:
        return "\n".join(lines) + "\n"
    lines += ["", "## The reviewer on contradictions", "",
              "Each question becomes a thread where the assistant already gave the right option; the user asks "
              "which option it was, and the draft either names another option (contradicts) or the same (agrees).",
              "", "| draft | cases | flagged | en | es | decided by |", "|---|---|---|---|---|---|"]
    for kind in ("contradicts", "agrees"):
        k = review.get(kind)
        if k:
            lines.append(f"| {kind} | {k['n']} | {_pct(k['flagged'])} | {_pct(k['by_language'].get('en'))} | "
                         f"{_pct(k['by_language'].get('es'))} | "
                         + ", ".join(f"{b} {n}" for b, n in k["decided_by"].items()) + " |")
    lines += ["", f"Catch rate {_pct(review['catch_rate'])}, false-alarm rate {_pct(review['false_alarm_rate'])}."]
    return "\n".join(lines) + "\n"


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [*DOMAINS, "all"]
    names = list(report["conditions"])
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for i, name in enumerate(names):
        c = report["conditions"][name]
        values = [(c["per_domain"].get(g, {}).get("accuracy") if g != "all" else c["accuracy"]) or 0 for g in groups]
        ax.bar([x + i * width for x in range(len(groups))], values, width, label=name)
    ax.axhline(report["chance"], color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(groups))], groups)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Multiple-choice accuracy, profile {report['profile']} ({report['questions']} questions)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: dict, out: Path) -> dict[str, Path]:
    """report.md, accuracy.png and results.json (every question's outcome) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "report.md", "chart": out / "accuracy.png", "json": out / "results.json"}
    chart(report, paths["chart"])
    paths["markdown"].write_text(markdown(report, paths["chart"].name), "utf-8")
    paths["json"].write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), "utf-8")
    return paths
