"""Cooperation that earns its cost, on the real embedded model: the reviewer's constrained verdict always
parses (llama.cpp), the integrator's rewrite never loses the draft's code or option (EN and ES), and
`concilio calibrate` measures and stores a step policy that stats and models then show."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agents.roles import final, orchestrator, reviewer
from agents.roles.substance import chosen_letter, options_in
from agents.roles.team import team_for
from agents.routing import language
from evals import reviewer as reviewer_eval

pytestmark = pytest.mark.model

ITEMS = [{"id": "q-en", "language": "en", "stem": "What is the capital of Spain?", "domain": "general",
          "choices": ["Paris", "London", "Madrid", "Berlin"], "answer": "C"},
         {"id": "q-es", "language": "es", "stem": "¿Cuál es la capital de Francia?", "domain": "general",
          "choices": ["París", "Londres", "Madrid", "Berlín"], "answer": "A"}]


def test_the_constrained_verdict_always_parses_on_llamacpp():
    pytest.importorskip("llama_cpp")
    team = team_for(reviewer_eval.profile_for("llamacpp"))
    assert team.role("reviewer").model.backend == "llamacpp"
    for case in reviewer_eval.cases(ITEMS):  # contradiction and omission cases, bad and good, EN and ES
        for variant in ("verdict", "claim"):
            verdict, parsed, trace, _, _ = reviewer.model_verdict(team, case["language"], case["question"],
                                                                  case["draft"], case["history"], variant=variant)
            assert parsed and verdict["by"] == "model" and verdict["verdict"] in ("ok", "revise"), trace
            assert "constrained" in trace["note"]


def test_gpt4all_answers_in_the_fixed_form_or_is_marked_unclear():
    team = team_for("embedded")
    case = reviewer_eval.cases(ITEMS[:1])[0]
    verdict, parsed, trace, _, _ = reviewer.model_verdict(team, "en", case["question"], case["draft"],
                                                          case["history"], variant="verdict")
    assert "fixed format" in trace["note"]
    assert verdict["by"] == ("model" if parsed else "model-unclear")


CODE = "```python\ndef first(items):\n    return items[0]\n```"


@pytest.mark.parametrize("lang, question, draft", [
    ("en", "How do I get the first element of a list in Python? Show the code.",
     f"Use indexing:\n{CODE}\nIt returns the element at position 0."),
    ("es", "¿Cómo obtengo el primer elemento de una lista en Python? Muestra el código.",
     f"Usa el índice:\n{CODE}\nDevuelve el elemento en la posición 0."),
    ("en", "What is the capital of Spain?\n\nA) Paris\nB) London\nC) Madrid\nD) Berlin\n\nAnswer with the letter "
           "of the correct option, then explain briefly.", "C) Madrid. It has been the capital since 1561."),
    ("es", "¿Cuál es la capital de Francia?\n\nA) París\nB) Londres\nC) Madrid\nD) Berlín\n\nResponde con la letra "
           "de la opción correcta y explica brevemente.", "A) París. Es la capital desde hace siglos."),
])
def test_the_integrated_answer_keeps_the_drafts_code_and_option(lang, question, draft):
    team = team_for("embedded")
    rewrite, _ = orchestrator.integrate(team, question=question, draft=draft, notes="", lang=lang)
    choices = options_in(question)
    answer, note = final.keep_substance(draft, rewrite, draft_language=language.detect(draft, fallback=lang)[0],
                                        lang=lang, choices=choices)
    if "```" in draft:
        assert "def first(items):" in answer and "return items[0]" in answer, (rewrite, note)
    else:
        assert chosen_letter(answer, choices) == draft[0], (rewrite, note)
    assert bool(note) == (answer != rewrite)  # the trace says when the draft was put back


def run(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "graphs.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)


def test_calibrate_stores_a_policy_that_stats_and_models_show():
    done = run("calibrate", "--profile", "embedded", "--limit", "2", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["questions"] == 2 and sum(c["n"] for c in result["cells"].values()) == 2
    assert len(result["plans"]) == 6 and os.path.exists(result["file"])
    models = run("models", "--profile", "embedded", "--json")
    assert json.loads(models.stdout)["step_policy"]["calibrated"] is True
    stats = run("stats", "--profile", "embedded")
    assert stats.returncode == 0 and "step policy for embedded: calibrated" in stats.stdout
