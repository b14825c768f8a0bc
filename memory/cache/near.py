"""When a new first-turn question may take the answer stored for another: the near-duplicate rule. Pure.

Sentence embeddings put "What is the capital of France?" and "What is the capital of Spain?" very close
together, so similarity alone gives wrong answers. A near hit needs both:

  1. cosine similarity of the two questions' embeddings >= the threshold (CONCILIO_CACHE_NEAR), and
  2. the same *pinned words*: every number, every negation, and every content word (stemmed, accents
     folded) of one question appears in the other, in the same order up to moving a leading phrase to the
     end. Only function words and question frames ("what is", "explain", "¿me puedes decir...") may differ.

So "how do I reverse a list in python" ~ "in python, how can I reverse a list?" may hit, while France/Spain,
install/uninstall, 2023/2024, "is it legal" / "is it not legal" never do. The look-alike pairs this is measured
on are in evals/data/cache_pairs.jsonl (both languages); `python -m evals.bench_cache` reports false and true
hits for the threshold in use.
"""

from __future__ import annotations

import re
import unicodedata

NEGATIONS = {"not", "no", "never", "none", "nobody", "nothing", "without", "cannot", "nor", "neither",
             "nunca", "jamas", "ningun", "ninguna", "ninguno", "nadie", "nada", "sin", "ni", "tampoco"}
# Words that frame a question without changing what is asked (en, es), after folding.
FRAME = {
    # en
    "a", "an", "the", "what", "whats", "what's", "which", "who", "how", "why", "when", "where", "is", "are", "was",
    "were", "be", "do", "does", "did", "can", "could", "would", "should", "will", "shall", "may", "might", "must",
    "i", "me", "my", "you", "your", "we", "it", "its", "this", "that", "these", "those", "there", "of", "in",
    "on", "at", "to", "for", "from", "by", "with", "about", "into", "as", "and", "or", "so", "if", "then",
    "please", "tell", "explain", "describe", "define", "definition", "meaning", "mean", "means", "way", "ways",
    "some", "any", "give", "show", "help", "need", "want", "know", "like", "briefly", "quick", "quickly",
    "simple", "simply", "example", "exactly", "really", "just", "kind", "one", "get", "make", "use", "using",
    # es
    "el", "la", "los", "las", "un", "una", "unos", "unas", "lo", "que", "qué", "cual", "cuales", "quien",
    "como", "cómo", "por", "porque", "cuando", "donde", "es", "son", "era", "ser", "esta", "estan", "estar",
    "hay", "de", "del", "en", "a", "al", "para", "con", "sobre", "y", "o", "u", "si", "se", "me", "mi", "mis",
    "te", "tu", "tus", "su", "sus", "nos", "le", "les", "puedes", "puede", "podrias", "podria", "decir",
    "dime", "puedo", "tiene", "tienen", "explica", "explicame", "explicar", "describe", "describir", "define",
    "definir", "definicion",
    "significa", "significado", "quiero", "saber", "necesito", "favor", "ayuda", "ayudame", "forma", "manera",
    "ejemplo", "breve", "brevemente", "algun", "alguna", "hacer", "usar", "este", "ese", "eso", "esto",
}
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
STEM = 5  # leading characters kept: "contracts"/"contract", "arrendamientos"/"arrendamiento" match


def fold(text: str) -> str:
    """Lowercase, accents removed (ñ kept as n): "¿Qué Año?" -> "¿que ano?"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def pinned(question: str) -> tuple[str, ...]:
    """The words a near hit must share, in order of first appearance: numbers, negations (as one marker,
    "not"), and content words cut to their first STEM characters."""
    words: list[str] = []
    for token in _TOKEN.findall(fold(question).replace("’", "'")):
        if token.endswith("n't"):
            found = [token[:-3], "not"]
        elif token in NEGATIONS:
            found = ["not"]  # "no", "never", "sin": the same marker
        elif token.isdigit():
            found = [token]
        else:  # a plural or third-person -s off, then the stem: "works"/"work", "contratos"/"contrato"
            stem = token[:-1] if len(token) > 3 and token.endswith("s") else token
            found = [stem[:STEM]] if token not in FRAME else []
        words += [w for w in found if w not in FRAME and w not in words]
    return tuple(words)


def is_rotation(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """b is a with a leading part moved to the end ("in python, reverse a list" / "reverse a list in python");
    "landlord evicts tenant" / "tenant evicts landlord" is not."""
    return len(a) == len(b) and any(a[i:] + a[:i] == b for i in range(max(len(a), 1)))


def near_duplicate(question: str, stored: str, similarity: float, threshold: float) -> tuple[bool, str]:
    """(hit, why) for a new question against a stored first-turn question, given their cosine similarity."""
    if threshold <= 0:
        return False, "near-duplicate hits are off"
    if similarity < threshold:
        return False, f"similarity {similarity:.3f} < {threshold:.3f}"
    mine, theirs = pinned(question), pinned(stored)
    if set(mine) != set(theirs):
        differ = sorted(set(mine) ^ set(theirs))[:4]
        return False, f"similar ({similarity:.3f}) but the words {', '.join(differ)} differ"
    if not is_rotation(mine, theirs):
        return False, f"similar ({similarity:.3f}) but the same words in another order"
    return True, f"similarity {similarity:.3f} >= {threshold:.3f}, same pinned words"
