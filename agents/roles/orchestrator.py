"""The orchestrator (Orca 2 in the seed's set): analyses each question, answers general ones itself,
and integrates the final answer in the user's language. Its texts: agents/roles/prompts/orchestrator.toml.

No LangGraph in here: plain functions taking a Team and returning data plus trace rows.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from agents.backends import Message
from agents.roles import final, prompts
from agents.roles.team import Team, TraceEntry, join_notes, trace_row
from agents.routing import classifier as router
from agents.routing import context as route_context
from agents.routing import language
from agents.routing import signals as routing_rules
from agents.routing import store as router_store
from agents.user_text import clean_question  # noqa: F401 - where the graph and the API take questions from

MAX_QUESTION_CHARS = 20_000

_DOMAIN_WORD = re.compile(r"\b(legal|technical|general|t[eé]cnic[oa]|jur[ií]dic[oa])\b", re.IGNORECASE)
_SYNONYMS = {"tecnico": "technical", "tecnica": "technical", "juridico": "legal", "juridica": "legal"}


# What the integrator proposes to remember across threads, from the user's own words (es/en).
# Names and places must be capitalised; the lead-in phrases match in any case.
_CAP = r"[A-ZÁÉÍÓÚÑ][\w'-]+"
MEMORY_PATTERNS = {
    "name": re.compile(rf"(?i:\b(?:me llamo|mi nombre es|my name is|call me))\s+({_CAP}(?:\s+{_CAP})?)"),
    "jurisdiction": re.compile(
        rf"(?i:\b(?:vivo en|resido en|soy de|i live in|i'm based in|i am based in|i'm from|i am from))"
        rf"\s+({_CAP}(?:\s+{_CAP})*)"),
    "stack": re.compile(
        r"(?i:\b(?:uso|trabajo con|programo en|i use|i work with|i code in|i program in))\s+"
        r"([A-Z][\w+#.]*(?:\s*(?:,|and|y)\s*[A-Z][\w+#.]*)*)"),
}
_LANGUAGE_PREFERENCE = re.compile(
    r"(?i)\b(?:responde|respóndeme|contesta|answer|reply|respond)\s+(?:siempre\s+|always\s+)?"
    r"(?:en|in)\s+(español|castellano|inglés|ingles|spanish|english)\b")


def propose_memories(question: str) -> dict[str, str]:
    """Durable facts the user stated about themselves: name, jurisdiction, stack, language preference."""
    facts = {}
    for key, pattern in MEMORY_PATTERNS.items():
        match = pattern.search(question)
        if match:
            facts[key] = match.group(1).strip(" .,")
    match = _LANGUAGE_PREFERENCE.search(question)
    if match:
        facts["language"] = "en" if routing_rules.fold(match.group(1)) in ("ingles", "english") else "es"
    return facts


known_facts = final.facts_line  # the user's remembered facts as one prompt line (agents/roles/final.py)


@dataclass
class Analysis:
    domain: str
    confidence: float
    by: str  # "classifier" | "feedback" | "llm" | "override"
    language: str
    complexity: str
    trace: TraceEntry
    scores: dict[str, float] = field(default_factory=dict)
    thread: str = ""  # why the thread's domain was kept or left ("" when it had no say)
    swap: str = ""  # why the resident model answers instead of the top domain's ("" when it doesn't)


def parse_domain(text: str) -> str | None:
    """The first domain word in a model's reply, English or Spanish; None if there is none."""
    match = _DOMAIN_WORD.search(text)
    if not match:
        return None
    word = routing_rules.fold(match.group(1))
    return _SYNONYMS.get(word, word)


def ask_model(team: Team, question: str) -> tuple[str | None, TraceEntry]:
    """The orchestrator model's one-word domain for `question` (None when its reply names none)."""
    routing = prompts.load("orchestrator")["router"]  # one instruction, examples in both languages
    messages: list[Message] = [{"role": "system", "content": routing["system"]}]
    for shot, label in routing["shots"]:
        messages += [{"role": "user", "content": shot}, {"role": "assistant", "content": label}]
    messages.append({"role": "user", "content": router.clip(question)})
    reply = team.call("analyze", "orchestrator", messages, max_tokens=4, stop_on_loop=False)
    reply.trace["note"] = f"model said {reply.text!r}"
    return parse_domain(reply.text), reply.trace


def resident_domains(team: Team) -> tuple[set[str], dict[str, float]]:
    """The domains whose answering model is loaded now, and each domain model's measured load seconds
    (the mean of the slot's loads of it; absent when never loaded here)."""
    from agents.roles.specialist import role_for

    resident = set(team.slot.resident())
    events = [e for e in getattr(team.slot, "events", []) if e.kind == "load"]
    domains, costs = set(), {}
    for domain in router.DOMAINS:
        name = team.role(role_for(domain)).model.name
        if name in resident:
            domains.add(domain)
        loads = [e.seconds for e in events if e.model == name]
        if loads:
            costs[domain] = sum(loads) / len(loads)
    return domains, costs


def _in_context(team: Team, question: str, decision, thread_domain: str | None, swap_margin: float,
                thread: bool) -> tuple[str, str, str]:
    """The domain after the thread (a follow-up keeps it) and the GPU (a close call goes to the resident
    model), with why each had its say."""
    domain, why_thread, why_swap = decision.domain, "", ""
    if thread and decision.by != "feedback":
        kept = route_context.with_thread(decision.scores, thread_domain, question)
        domain, why_thread = kept.domain, kept.why
    if swap_margin > 0 and not why_thread:
        resident, costs = resident_domains(team)
        top = max(decision.scores, key=decision.scores.__getitem__)
        margin = route_context.effective_margin(swap_margin, costs.get(top))
        choice = route_context.prefer_resident(decision.scores, resident, decision.by, margin)
        if choice.saved:
            domain, why_swap = choice.domain, choice.why
    return domain, why_thread, why_swap


def analyze(team: Team, question: str, *, previous_language: str | None = None,
            force_domain: str | None = None, thread_domain: str | None = None) -> Analysis:
    """Language, complexity and domain: a forced route; else the learned classifier (or a correction of a
    similar question), weighed against the thread's domain so far and the model already resident; else, when
    the classifier is unsure and the profile allows it, the orchestrator model."""
    from agents.settings import settings

    start = time.perf_counter()
    lang, _ = language.detect(question, fallback=previous_language or "en")
    level = routing_rules.complexity(question)
    if force_domain:
        row = trace_row("analyze", seconds=time.perf_counter() - start, note=f"route forced: {force_domain}")
        return Analysis(force_domain, 1.0, "override", lang, level, row)
    classifier = router_store.current()
    decision = classifier.decide(question)
    config = settings()
    domain, why_thread, why_swap = _in_context(team, question, decision, thread_domain,
                                               config.route_swap_margin, config.route_thread)
    scores = ", ".join(f"{d} {p:.2f}" for d, p in sorted(decision.scores.items()))
    note = join_notes(f"{decision.by} ({decision.tier}): {scores}; threshold {classifier.threshold:.2f}",
                      decision.note, why_thread, why_swap)
    confidence = decision.scores.get(domain, decision.confidence)
    sure = decision.by == "feedback" or decision.confidence >= classifier.threshold or bool(why_thread)
    if sure or not team.profile.model_routing:
        why = "" if sure else "unsure, and model routing is off for this profile"
        row = trace_row("analyze", seconds=time.perf_counter() - start, note=join_notes(note, why))
        return Analysis(domain, confidence, decision.by, lang, level, row, decision.scores, why_thread, why_swap)
    asked, row = ask_model(team, question)
    row["note"] = join_notes(note, row["note"])
    row["seconds"] = round(time.perf_counter() - start, 3)
    if asked is None:
        row["note"] = join_notes(row["note"], "kept the classifier's route")
        return Analysis(domain, confidence, decision.by, lang, level, row, decision.scores, why_thread, why_swap)
    # The model's vote, strengthened by the classifier's agreement with it.
    return Analysis(asked, 0.5 + 0.5 * decision.scores.get(asked, 0.0), "llm", lang, level, row, decision.scores)


def can_skip_integration(*, draft_role: str, verdict: str, draft_language: str | None, lang: str) -> str | None:
    """Why integration has nothing to add (the reason, for the trace), or None when it must run."""
    if draft_role == "orchestrator" and verdict == "ok" and draft_language == lang:
        return "the orchestrator wrote the draft itself, the review passed and it is in the user's language"
    return None


def integrate(team: Team, *, question: str, draft: str, notes: str, lang: str,
              prompt: str | None = None, facts: str = "") -> tuple[str, TraceEntry]:
    """The final answer in `lang`. Falls back to the draft when the rewrite is empty or in another language."""
    system = prompts.fill(prompt or prompts.text("orchestrator", "integrate", lang), draft=draft)
    if notes:
        system += prompts.prompt("orchestrator", "integrate_notes", lang, notes=notes)
    if facts:
        system += "\n\n" + facts
    messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    reply = team.call("integrate", "orchestrator", messages, max_tokens=320)
    text = reply.text.strip()
    if not text:
        reply.trace["note"] = "empty rewrite; kept the draft"
        return draft, reply.trace
    out_lang, _ = language.detect(text, fallback=lang)
    if out_lang != lang:
        draft_lang, _ = language.detect(draft, fallback=lang)
        if draft_lang == lang:
            reply.trace["note"] = f"rewrite came out in {out_lang}; kept the draft"
            return draft, reply.trace
    return text, reply.trace
