"""What an answer says, read deterministically (pure): the option it picks, its code blocks, its numbers.

The reviewer compares a draft's option with the conversation (`option_conflict`, `missing_option`), and the
integrator's rewrite is checked against the draft (`lost`): a rewrite that dropped or changed the draft's
code, option or numbers is not the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LETTERS = "ABCDEFGH"

_EXPLICIT = re.compile(r"\b(?:answer|option|choice|respuesta|opci[oó]n|alternativa)\b[^A-Za-z\n]{0,20}"
                       r"(?:is|es|was|era|:|correcta es|la)?\s*(?:la\s+)?\(?([A-H])\b(?![a-z'])", re.IGNORECASE)
_LEADING = re.compile(r"(?:^|\n)\s*\**\(?([A-H])\s*[\)\.:\]]", re.MULTILINE)
_BARE = re.compile(r"(?<![A-Za-z'])\(?([A-H])\)")
_OPTION_LINE = re.compile(r"^\s*\(?([A-H])[\)\.]\s+(.+?)\s*$", re.MULTILINE)
_CODE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_NUMBER = re.compile(r"(?<![\w.,])-?\d+(?:[.,\s]\d{3})*(?:[.,]\d+)?(?![\w])")
_ASKS_LETTER = re.compile(r"\b(letter|letra)\b", re.IGNORECASE)


def chosen_letter(reply: str, choices: Sequence[str] = (), *, by_text: bool = True) -> str | None:
    """The option a reply picks: an explicit "answer is X", a leading "X)", an "X)" anywhere, or (by_text)
    the text of exactly one option. None when it names none. Without `choices`, any letter A-H counts."""
    valid = LETTERS[:len(choices)] if choices else LETTERS
    for pattern in (_EXPLICIT, _LEADING, _BARE):
        for match in pattern.finditer(reply):
            letter = match.group(1).upper()
            if letter in valid and (pattern is not _EXPLICIT or match.group(1).isupper()):
                return letter
    if not by_text or not choices:
        return None
    text = reply.casefold()
    named = [LETTERS[i] for i, c in enumerate(choices) if len(c.strip()) >= 3 and c.strip().casefold() in text]
    return named[0] if len(named) == 1 else None


def options_in(text: str) -> list[str]:
    """The options listed in a message ("A) ..." lines, in order from A), or [] when it lists none."""
    found = _OPTION_LINE.findall(text)
    out: list[str] = []
    for letter, body in found:
        if len(out) < len(LETTERS) and letter == LETTERS[len(out)]:
            out.append(body)
    return out if len(out) >= 2 else []


def _last_options(history: Sequence[dict]) -> tuple[list[str], int]:
    """The options of the latest user message in `history` that lists some, and its index (-1: none)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i]["role"] == "user" and (found := options_in(history[i]["content"])):
            return found, i
    return [], -1


def option_conflict(history: Sequence[dict], question: str, draft: str) -> str | None:
    """The draft names another option than the assistant already gave for the same options (the question
    itself lists none, so it refers back): the issue, else None."""
    if options_in(question):
        return None
    choices, at = _last_options(history)
    if at < 0:
        return None
    earlier = [m["content"] for m in history[at + 1:] if m["role"] == "assistant"]
    said = next((x for x in (chosen_letter(e, choices) for e in reversed(earlier)) if x), None)
    now = chosen_letter(draft, choices)
    if said and now and said != now:
        return f"the draft names option {now}, but the assistant answered {said} earlier in the conversation"
    return None


def missing_option(history: Sequence[dict], question: str, draft: str) -> str | None:
    """The user asked (now or in an earlier turn) for an option's letter, options are on the table, and the
    draft names no letter: the issue, else None."""
    asked = [question, *(m["content"] for m in history if m["role"] == "user")]
    if not any(_ASKS_LETTER.search(t) for t in asked):
        return None
    choices = options_in(question) or _last_options(history)[0]
    if not choices or chosen_letter(draft, choices, by_text=False):
        return None
    return "the user asked for the letter of an option and the draft names none"


# --- the integrator's rewrite against the draft ------------------------------------------------------------------
def code_blocks(text: str) -> list[str]:
    return [block.strip() for block in _CODE.findall(text) if block.strip()]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def numbers(text: str) -> set[str]:
    """The numbers in a text outside code blocks, normalised (1,000 = 1.000 = 1000; 3,5 = 3.5). Pure."""
    prose = _CODE.sub(" ", text)
    out = set()
    for raw in _NUMBER.findall(prose):
        value = re.sub(r"[\s]", "", raw)
        if re.fullmatch(r"-?\d{1,3}(?:[.,]\d{3})+", value):  # thousands separators
            value = re.sub(r"[.,]", "", value)
        out.add(value.replace(",", "."))
    return out


def lost(draft: str, final: str, choices: Sequence[str] = ()) -> list[str]:
    """What of the draft's substance the final answer dropped or changed: its code blocks (verbatim up to
    whitespace), its chosen option, its numbers. [] when all is kept. Pure."""
    problems = []
    kept_code = _squeeze(final)
    for block in code_blocks(draft):
        if _squeeze(block) not in kept_code:
            problems.append("a code block")
    choices = choices or options_in(draft)
    was, now = chosen_letter(draft, choices), chosen_letter(final, choices)
    if was and now != was:
        problems.append(f"the chosen option {was} (now {now or 'none'})")
    missing = sorted(numbers(draft) - numbers(final))
    if missing:
        problems.append("the number(s) " + ", ".join(missing[:5]))
    return problems
