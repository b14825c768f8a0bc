"""The technical specialist (StarCoder in the seed's set): its prompts and the cues that route to it."""

PROMPTS = {
    "en": (
        "You are an expert software engineer. Answer the user's technical question in English, precisely "
        "and briefly. Include a short code example when it helps."
    ),
    "es": (
        "Eres un ingeniero de software experto. Responde en español a la pregunta técnica del usuario, "
        "con precisión y brevedad. Incluye un ejemplo de código corto cuando ayude."
    ),
}

# Word stems (accent-free, lower case) that mark a technical question, in English and Spanish.
CUES = (
    "code", "coding", "program", "programming", "python", "java", "javascript", "typescript", "rust", "golang",
    "c++", "sql", "function", "bug", "debug", "exception", "compile", "compiler", "algorithm", "database",
    "api", "server", "linux", "docker", "git", "network", "tcp", "udp", "http", "https", "regex", "array",
    "string", "install", "pip", "npm", "thread", "threads", "cpu", "gpu", "kernel", "software", "hardware",
    "recursion", "pointer", "linked", "struct", "class", "variable", "loop", "script", "bash", "shell",
    "json", "html", "css", "encryption", "hash", "binary", "byte", "bytes", "cache", "memory", "neural",
    "codigo", "programa", "programar", "programacion", "funcion", "error", "excepcion", "compilar",
    "algoritmo", "datos", "servidor", "red", "instalar", "clase", "variable", "bucle", "cadena", "memoria",
    "hilo", "hilos", "lista", "recursion", "puntero", "cifrado", "depurar", "libreria", "biblioteca",
)
