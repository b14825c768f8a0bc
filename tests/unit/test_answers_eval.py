"""The answer-quality evaluation's pure parts: reading a reply's choice, sampling, cases, arithmetic, report."""

from __future__ import annotations

import pytest

from evals.answer_report import markdown, write_report
from evals.answers import chosen_letter, prompt, reviewer_cases, sample, spanish_stems, summarize

CHOICES = ["Paris", "London", "Madrid", "Berlin"]


@pytest.mark.parametrize("reply, expected", [
    ("B) London is the capital.", "B"),
    ("The answer is C.", "C"),
    ("The correct answer is (D) Berlin", "D"),
    ("La respuesta correcta es la D) Berlin, porque...", "D"),
    ("Respuesta: A", "A"),
    ("**A.** Because it is in France.", "A"),
    ("I would pick option B here.", "B"),
    ("Creo que es Madrid.", "C"),  # the text of exactly one option
    ("The answer is a city in France: Paris.", "A"),  # a lower-case 'a' is a word, not a choice
    ("A capital city is where the government sits.", None),
    ("Paris or London, hard to say.", None),  # two options named
    ("", None),
    ("E) none of these", None),  # not one of the four options
])
def test_the_choice_a_reply_makes(reply, expected):
    assert chosen_letter(reply, CHOICES) == expected


def _rows(n_per_domain: int) -> list[dict]:
    stems = list(spanish_stems())  # ids that have a shipped Spanish translation
    rows = []
    for d in ("legal", "technical", "general"):
        for i in range(n_per_domain):
            rid = stems.pop() if i % 2 else f"{d}-{i}"
            rows.append({"id": rid, "text": f"{d} question {i}", "domain": d, "choices": CHOICES, "answer": "A"})
    rows.append({"id": "no-choices", "text": "x", "domain": "legal"})
    return rows


def test_the_sample_takes_domains_and_languages_in_turn():
    items = sample(_rows(6), 12)
    assert [i["domain"] for i in items[:3]] == ["legal", "technical", "general"]
    assert {d: sum(i["domain"] == d for i in items) for d in ("legal", "technical", "general")} == {
        "legal": 4, "technical": 4, "general": 4}
    assert sum(i["language"] == "es" for i in items) == 6
    spanish = next(i for i in items if i["language"] == "es")
    assert spanish["stem"] == spanish_stems()[spanish["source_id"]] and spanish["id"] == "es-" + spanish["source_id"]
    assert all(i["id"] != "no-choices" for i in sample(_rows(6), 100))


def test_the_prompt_lists_the_options_and_asks_in_the_items_language():
    item = {"stem": "¿Capital de España?", "choices": CHOICES, "language": "es"}
    text = prompt(item)
    assert "C) Madrid" in text and text.endswith("Responde con la letra de la opción correcta y explica brevemente.")
    assert prompt({**item, "language": "en"}).endswith("Answer with the letter of the correct option, then explain "
                                                         "briefly.")


def test_each_question_gives_a_contradicting_and_an_agreeing_reviewer_case():
    item = {"id": "q", "stem": "Capital of Spain?", "choices": CHOICES, "answer": "C", "language": "en"}
    contradicts, agrees = reviewer_cases([item])
    assert contradicts["history"][1]["content"] == "The answer is C) Madrid."
    assert contradicts["draft"] == "It was D) Berlin." and agrees["draft"] == "It was C) Madrid."
    (es_case, _) = reviewer_cases([{**item, "language": "es", "answer": "D"}])
    assert es_case["draft"] == "Era la A) Paris." and es_case["question"].startswith("¿Qué opción")


def _result(domain, language, correct, chosen="A", seconds=2.0, swaps=1, **extra):
    return {"domain": domain, "language": language, "correct": correct, "chosen": chosen, "seconds": seconds,
            "swaps": swaps, **extra}


def test_summary_arithmetic():
    rows = [_result("legal", "en", True, routed="legal"), _result("legal", "es", False, chosen=None, routed="general"),
            _result("general", "en", True, seconds=4.0, swaps=0, routed="general")]
    s = summarize(rows)
    assert s["n"] == 3 and s["accuracy"] == 0.667 and s["unreadable"] == 1
    assert {d: (c["n"], c["accuracy"]) for d, c in s["per_domain"].items()} == {"general": (1, 1.0), "legal": (2, 0.5)}
    assert s["per_language"]["es"] == {"n": 1, "accuracy": 0.0, "ci95": [0.0, 0.793], "seconds_per_question": 2.0}
    assert s["per_domain"]["legal"]["ci95"] == [0.095, 0.905]  # Wilson: wide, as two questions deserve
    assert s["seconds_per_question"] == 2.667 and s["swaps_per_question"] == 0.667 and s["routing_accuracy"] == 0.667
    assert "routing_accuracy" not in summarize([_result("legal", "en", True)])


def test_the_report_has_its_tables_and_a_png_chart(tmp_path):
    condition = summarize([_result("legal", "en", True, routed="legal"), _result("technical", "es", False,
                                                                                routed="legal")])
    report = {"profile": "embedded", "questions": 2, "languages": {"en": 1, "es": 1}, "chance": 0.25,
              "training": {"left_out_overlap": 2}, "graph_minus_best_single": 0.0, "oracle_minus_graph": 0.5,
              "conditions": {"graph": condition, "oracle": condition, "single:SmolLM2": condition},
              "reviewer": {"catch_rate": 0.5, "false_alarm_rate": 0.0,
                           "contradicts": {"n": 2, "flagged": 0.5, "by_language": {"en": 1.0, "es": 0.0},
                                           "decided_by": {"model": 2}}}}
    text = markdown(report)
    assert "| graph | 50% [10%–90%] (n=2) | 100% [21%–100%] | 0% [0%–79%] | – | 100% [21%–100%] | 0% [0%–79%] |" in text
    assert "Catch rate 50%, false-alarm rate 0%." in text
    paths = write_report(report, tmp_path / "out")
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![accuracy per domain](accuracy.png)" in paths["markdown"].read_text()
