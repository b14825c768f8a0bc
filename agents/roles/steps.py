"""Which steps run after the draft, decided by measurement (pure): review, revision, integration.

Evidence is what `concilio calibrate` measured on the user's own models (memory/step_policy.py keeps it),
per profile and (domain, language) cell:

    {"n": 8, "draft": 3, "integrated": 2, "checks_flagged": 1, "checks_gain": 1,
     "model_flagged": 4, "model_gain": -1, "seconds": {...}}

`draft` and `integrated` count correct answers of the specialist's draft and of the integrator's answer to
it; `*_gain` is the net change in correct answers when the drafts flagged by the deterministic checks (or by
the reviewer model) were revised. A step runs only where it gained something: integration when it answered
more questions right than the draft; the model's review where its revisions gained; the deterministic checks
(no model call) where theirs did. A cell with fewer than MIN_N questions borrows its domain's cells, then the
whole profile's; with no evidence at all the seed's full flow runs. Every skipped step names its evidence.

The ledger adds what people said of the answers (memory/stats.py `step_feedback`, stored beside the calibration by
`concilio calibrate`, also `--from-ledger` alone): per cell, good ratings and ratings of answers made with the
reviewer model consulted or not, and with integration run or skipped. Once both arms of a step hold
MIN_FEEDBACK ratings (pooled upwards like the calibration), a lead of FEEDBACK_MARGIN in the share of good
ratings turns the step on or off whatever the calibration said; a smaller lead leaves the calibration's call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

MIN_N = 4  # questions a cell needs before its own figures decide
MIN_FEEDBACK = 6  # ratings each arm of a step needs before feedback decides
FEEDBACK_MARGIN = 0.2  # lead in the share of good ratings that overrides the calibration
ARMS = {"review": "the reviewer model", "integrate": "integration"}
FULL = "no calibration evidence for this profile: the full flow"


@dataclass(frozen=True)
class Plan:
    review: str = "model"  # "model" (checks, then the reviewer model) | "checks" (no model call) | "off"
    revise: bool = True  # a flagged draft goes back to the specialist once
    integrate: bool = True
    note: str = FULL

    def as_dict(self) -> dict:
        return asdict(self)


def _pooled(cells: list[Mapping]) -> dict:
    out: dict = {}
    for cell in cells:
        for key, value in cell.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + value
    return out


def _enough_n(min_n: int):
    return lambda cell: cell.get("n", 0) >= min_n


def _enough_feedback(cell: Mapping) -> bool:
    return any(min(cell.get(f"{step}_on_n", 0), cell.get(f"{step}_off_n", 0)) >= MIN_FEEDBACK for step in ARMS)


def _pool(cells: Mapping, domain: str, language: str, enough) -> tuple[dict | None, str]:
    own = cells.get(f"{domain}/{language}")
    if own and enough(own):
        return dict(own), f"{domain}/{language}"
    pooled = _pooled([c for key, c in cells.items() if key.split("/")[0] == domain])
    if enough(pooled):
        return pooled, f"{domain} (both languages)"
    pooled = _pooled(list(cells.values()))
    if enough(pooled):
        return pooled, "the whole profile"
    return None, ""


def evidence_for(evidence: Mapping | None, domain: str, language: str, *, min_n: int = MIN_N
                 ) -> tuple[dict | None, str]:
    """The cell that decides for (domain, language), pooled upwards while it is too small, and where it came
    from ("legal/es", "legal (both languages)", "the whole profile"); (None, "") without enough evidence."""
    return _pool((evidence or {}).get("cells", {}), domain, language, _enough_n(min_n))


def feedback_says(cell: Mapping | None, step: str) -> tuple[bool | None, str]:
    """(on, why) for `step` from the ledger's ratings: True/False where one arm leads by FEEDBACK_MARGIN with
    MIN_FEEDBACK ratings on each side; None (no say) otherwise. Pure."""
    cell = cell or {}
    on_good, on_n = cell.get(f"{step}_on_good", 0), cell.get(f"{step}_on_n", 0)
    off_good, off_n = cell.get(f"{step}_off_good", 0), cell.get(f"{step}_off_n", 0)
    if min(on_n, off_n) < MIN_FEEDBACK:
        return None, ""
    lead = on_good / on_n - off_good / off_n
    why = f"good {on_good}/{on_n} with {ARMS[step]}, {off_good}/{off_n} without"
    return (True if lead >= FEEDBACK_MARGIN else False if lead <= -FEEDBACK_MARGIN else None), why


def plan(evidence: Mapping | None, domain: str, language: str, *, min_n: int = MIN_N) -> Plan:
    """The steps to run for a question of `domain` in `language`, from the profile's evidence."""
    cell, where = evidence_for(evidence, domain, language, min_n=min_n)
    review, integrate, notes = "model", True, []
    if cell is not None:
        n = cell["n"]
        integrate = cell.get("integrated", 0) > cell.get("draft", 0)
        model_gain, checks_gain = cell.get("model_gain", 0), cell.get("checks_gain", 0)
        review = "model" if model_gain > 0 else "checks" if checks_gain > 0 else "off"
        notes.append(f"calibrated on {n} question(s), {where}")
        if not integrate:
            notes.append(f"integration skipped: its answers were right {cell.get('integrated', 0)}/{n} times, "
                         f"the draft {cell.get('draft', 0)}/{n}")
        if review != "model":
            notes.append(f"reviewer model skipped: its {cell.get('model_flagged', 0)} revision(s) changed "
                         f"{model_gain:+d} right answer(s)")
        if review == "off":
            notes.append(f"checks skipped: their {cell.get('checks_flagged', 0)} revision(s) changed "
                         f"{checks_gain:+d} right answer(s)")
    rated, rated_where = _pool(((evidence or {}).get("feedback") or {}).get("cells", {}), domain, language,
                               _enough_feedback)
    said = {step: feedback_says(rated, step) for step in ARMS}
    if said["integrate"][0] is not None:
        integrate = said["integrate"][0]
    if said["review"][0] is True and review != "model":
        review = "model"
    elif said["review"][0] is False and review == "model":
        review = "checks"
    for step, (on, why) in said.items():
        if on is not None:
            notes.append(f"ledger feedback ({rated_where}): {ARMS[step]} {'on' if on else 'off'}, {why}")
    if not notes:
        return Plan()
    return Plan(review=review, revise=review != "off", integrate=integrate, note="; ".join(notes))


def describe(evidence: Mapping | None, domains=("legal", "technical", "general"), languages=("en", "es")
             ) -> list[dict]:
    """One row per (domain, language): the plan and why (for `concilio stats` and `concilio models`)."""
    rows = []
    for domain in domains:
        for language in languages:
            p = plan(evidence, domain, language)
            rows.append({"domain": domain, "language": language, **p.as_dict()})
    return rows
