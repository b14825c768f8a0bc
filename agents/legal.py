"""The legal specialist (Phi-3 Mini in the seed's set): its prompts and the cues that route to it."""

PROMPTS = {
    "en": (
        "You are a careful legal assistant. Answer the user's legal question in English, clearly and briefly. "
        "Name the legal concepts involved and say when the answer depends on the jurisdiction."
    ),
    "es": (
        "Eres un asistente jurídico cuidadoso. Responde en español a la pregunta legal del usuario, "
        "de forma clara y breve. Nombra los conceptos jurídicos y di si la respuesta depende de la jurisdicción."
    ),
}

# Word stems (accent-free, lower case) that mark a legal question, in English and Spanish.
CUES = (
    "law", "laws", "legal", "illegal", "lawyer", "attorney", "court", "judge", "contract", "lease", "landlord",
    "tenant", "evict", "eviction", "lawsuit", "sue", "liability", "liable", "statute", "regulation", "gdpr",
    "copyright", "trademark", "patent", "constitution", "constitutional", "jurisdiction", "plaintiff",
    "defendant", "criminal", "crime", "divorce", "custody", "inheritance", "testament", "tort", "negligence",
    "rights", "fired", "dismissal", "severance", "notary", "fine", "penalty", "prosecutor", "verdict",
    "ley", "leyes", "abogado", "abogada", "tribunal", "juez", "jueza", "juzgado", "contrato", "arrendamiento",
    "alquiler", "casero", "casera", "arrendador", "inquilino", "desahucio", "demanda", "demandar", "denuncia",
    "denunciar", "responsabilidad", "reglamento", "rgpd", "derechos", "derecho", "marca", "patente",
    "constitucion", "jurisdiccion", "delito", "penal", "divorcio", "custodia", "herencia", "testamento",
    "despido", "despedir", "indemnizacion", "notario", "multa", "sancion", "juicio", "sentencia", "fiscal",
    "legalmente", "ilegal", "clausula", "clause",
)
