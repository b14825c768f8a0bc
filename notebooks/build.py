"""Writes the notebooks from these cell lists (so they stay reviewable as code), then
`python -m notebooks.build --execute` runs them top to bottom and saves them with outputs.
The test suite executes them too (tests/integration/test_notebooks.py)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The first code cell of every notebook: its threads and ledger go to a scratch folder, never into the
# user's real data folder, unless the reader says otherwise.
SCRATCH = ("import os, tempfile\n\n"
           "USE_MY_DATA = False  # True: keep this notebook's threads and ledger in your real data folder\n"
           "if not USE_MY_DATA:\n"
           "    os.environ['CONCILIO_DATA_DIR'] = tempfile.mkdtemp(prefix='concilio-notebook-')\n")

QUICKSTART = [
    ("md", "# concilio: quick start\n\nBuild the cooperation graph, ask in Spanish and English, read the "
           "trace, and look at the graph. Runs on the embedded model (SmolLM2-135M-Instruct, fetched once)."),
    ("code", SCRATCH + "\nfrom graphs.api import ask\nfrom graphs.cli import trace_table"),
    ("md", "## A Spanish question\n`ask` runs one turn: analyze → specialist → review → integrate."),
    ("code", "es = ask('¿Puede mi casero echarme del piso sin previo aviso?', thread_id='demo-es')\n"
             "print(es['answer'])\nprint(es['route'], es['language'])\nprint(trace_table(es['trace']))"),
    ("md", "## An English question, with progress events as they happen"),
    ("code", "events = []\n"
             "en = ask('How do I reverse a list in Python?', thread_id='demo-en', on_event=events.append)\n"
             "print(en['answer'])\nprint(trace_table(en['trace']))\n"
             "print([e['event'] for e in events if e['event'] != 'token'])"),
    ("md", "## The same thread, a second turn\nThe reviewer sees the first turn (its note says so)."),
    ("code", "follow = ask('¿Y si no pago la renta?', thread_id='demo-es')\n"
             "print(follow['turn'], [r['note'] for r in follow['trace'] if r['node'] == 'review'])"),
    ("md", "## The graph\nDrawn as a diagram where the notebook renders Mermaid (JupyterLab, VS Code, GitHub), "
           "as ASCII elsewhere."),
    ("code", "from IPython.display import display\n\nfrom graphs.cooperation import build_graph\n\n"
             "drawable = build_graph().get_graph()\n"
             "display({'text/markdown': f'```mermaid\\n{drawable.draw_mermaid()}\\n```',\n"
             "         'text/plain': drawable.draw_ascii()}, raw=True)"),
]

STEP_THROUGH = [
    ("md", "# Stepping through a run\n\nInterrupt before each node, inspect the state, change the route with "
           "`update_state`, resume, then list the history and replay from an earlier checkpoint."),
    ("md", "This question touches law and software. The router's classifier scores all three domains; the "
           "route records its domain, confidence, how it was decided and the node that will answer."),
    ("code", SCRATCH + "\nfrom langgraph.checkpoint.memory import InMemorySaver\n\n"
             "from graphs.cooperation import build_graph\nfrom graphs.state import Context\n\n"
             "graph = build_graph(checkpointer=InMemorySaver())\n"
             "config = {'configurable': {'thread_id': 'steps'}}\nctx = Context(profile='embedded')\n"
             "NODES = ['legal', 'technical', 'general', 'long_context', 'review', 'integrate']"),
    ("md", "## Run until the router has decided"),
    ("code", "graph.invoke({'question': 'Is it legal to sell my old laptop with its software?'}, config,\n"
             "             context=ctx, interrupt_before=NODES)\nstate = graph.get_state(config)\n"
             "print('next:', state.next)\nprint('route:', state.values['route'])"),
    ("md", "## Change the route\nSend it to the technical specialist (whatever the classifier said). "
           "`as_node='analyze'` makes the graph re-evaluate the edge out of analyze."),
    ("code", "route = {**state.values['route'], 'domain': 'technical', 'node': 'technical', 'by': 'override'}\n"
             "graph.update_state(config, {'route': route}, as_node='analyze')\n"
             "print('next:', graph.get_state(config).next)"),
    ("md", "## Resume step by step"),
    ("code", "while graph.get_state(config).next:\n    node = graph.get_state(config).next[0]\n"
             "    graph.invoke(None, config, context=ctx, interrupt_before=NODES)\n    print('ran', node)\n"
             "final = graph.get_state(config).values\nprint(final['answer'])\n"
             "print([r['node'] for r in final['trace']])"),
    ("md", "## Time travel\nEvery step left a checkpoint. Replay from the one just before the specialist ran."),
    ("code", "history = list(graph.get_state_history(config))\nfor snap in history:\n"
             "    print(snap.config['configurable']['checkpoint_id'][-8:], snap.next)\n"
             "before = next(s for s in history if s.next == ('technical',))\n"
             "replayed = graph.invoke(None, before.config, context=ctx)\nprint(replayed['answer'])"),
]

EFFECTIVENESS = [
    ("md", "# Effectiveness: the ledger, stats, metrics and answer quality\n\nEvery run is recorded in the "
           "ledger (memory/ledger.py): route, each node's model, seconds, load seconds, tokens, the reviewer's "
           "verdicts and your feedback. This notebook uses a scratch data folder, so it starts empty."),
    ("code", SCRATCH + "\nfrom pathlib import Path\n\nfrom graphs.api import ask, feedback\n\nquestions = {\n"
             "    'es-legal': '¿Puede mi casero echarme del piso sin previo aviso?',\n"
             "    'en-legal': 'Can my employer read my private emails?',\n"
             "    'es-tech': '¿Cómo invierto una lista en Python?',\n"
             "    'en-tech': 'How do I find which process uses port 8080 on Linux?',\n}\n"
             "for thread, q in questions.items():\n    r = ask(q, thread_id=thread)\n"
             "    print(thread, r['route'], r['language'])"),
    ("md", "## Rate two answers\nFeedback goes to the ledger and teaches the router."),
    ("code", "print(feedback('es-legal', 'good')['learned'])\nprint(feedback('en-tech', 'bad', domain='technical')"
             "['learned'])"),
    ("md", "## Stats per model and domain\nThe same numbers `concilio stats` prints, as a dict for code."),
    ("code", "from graphs.cli.stats import stats_text\nfrom memory.stats import collect\n\nreport = collect()\n"
             "print(stats_text(report))"),
    ("code", "import matplotlib.pyplot as plt\n\nrows = [m for m in report['models'] if m['tokens_per_s']]\n"
             "fig, ax = plt.subplots(figsize=(6, 2.5))\n"
             "ax.barh([f\"{m['model']} · {m['domain']}\" for m in rows], [m['tokens_per_s'] for m in rows])\n"
             "ax.set_xlabel('tokens/s')\nplt.tight_layout()"),
    ("md", "## Prometheus metrics\n`concilio metrics --port 9464` serves these; `serve()` does it from a "
           "long-running process like this one. Counters come from the ledger, so they match the stats."),
    ("code", "import urllib.request\nfrom graphs.monitor import serve\n\nserver = serve(0)  # any free port\n"
             "text = urllib.request.urlopen(f'http://127.0.0.1:{server.server_port}/metrics').read().decode()\n"
             "print('\\n'.join(l for l in text.splitlines() if l.startswith(('concilio_runs_total', "
             "'concilio_feedback_total', 'concilio_swaps_total'))))\nserver.shutdown()"),
    ("md", "## Answer quality: cooperation vs a single model vs perfect routing\nA small run (3 questions) of "
           "`python -m evals.answers` (the full one is `--limit 60`). On the 135M embedded model accuracy is "
           "near chance; the same code runs on your own models with `profile='gpt4all-seed'` or a config file."),
    ("code", "from IPython.display import Image, Markdown, display\n\nfrom evals.answer_report import "
             "write_report\nfrom evals.answers import DEFAULT_DATA, evaluate\nfrom evals.metrics import "
             "read_jsonl\n\nquality = evaluate(read_jsonl(DEFAULT_DATA), limit=3, reviewer_limit=2)\n"
             "paths = write_report(quality, Path(tempfile.mkdtemp()))\n"
             "display(Markdown(paths['markdown'].read_text()))\ndisplay(Image(str(paths['chart'])))"),
]

GPU_SLOT = [
    ("md", "# The GPU slot: budgets, prefetch and swap-aware scheduling\n\nEvery model call goes through one "
           "slot (agents/slot/slot.py). Here the legal and technical roles get their own copies of the embedded model, "
           "so a question really swaps models; the progress events show what the slot does and when."),
    ("code", SCRATCH + "\nimport shutil\nfrom dataclasses import replace\nfrom pathlib import Path\n\n"
             "from agents.models.profiles import Profile, embedded\n\n"
             "base = embedded()\nfolder = Path(tempfile.mkdtemp())\n"
             "def own_copy(role):\n    spec = base.role(role).model\n    path = folder / f'{role}.gguf'\n"
             "    shutil.copyfile(spec.path, path)\n    return replace(spec, path=path, name=f'SmolLM2 ({role})')\n\n"
             "roles = tuple(replace(r, model=own_copy(r.role)) if r.role in ('legal', 'technical') else r\n"
             "              for r in base.roles)\nprofile = Profile('slot-demo', roles, model_routing=False)\n"
             "for r in profile.roles:\n    print(f'{r.role:12} {r.model.name}')"),
    ("md", "## What each model will need, before loading it\nWeights, the KV cache for the role's context window "
           "and a measured overhead, read from the GGUF file (agents/slot/memory_need.py)."),
    ("code", "from agents.slot.memory_need import estimate\n\nfor m in profile.models():\n    need = estimate(m)\n"
             "    print(f'{m.name:22} weights {need.weights_mb} MB + KV {need.kv_mb} MB + {need.overhead_mb} MB'\n"
             "          f' = {need.total_mb:.0f} MB')"),
    ("md", "## One model at a time (`single`)\nThe route is known after analyze, so the answering model's file is "
           "read into the page cache at once; while it answers, the reviewer's file is read."),
    ("code", "from langgraph.checkpoint.memory import InMemorySaver\n\nfrom agents.slot.slot import GpuSlot\n"
             "from agents.roles.team import Team\nfrom graphs.cooperation import build_graph\nfrom graphs.state import "
             "Context\n\ngraph = build_graph(checkpointer=InMemorySaver())\n\n"
             "def run(team, question, thread):\n    config = {'configurable': {'thread_id': thread}}\n"
             "    for event in graph.stream({'question': question}, config, context=Context(profile=team),\n"
             "                              stream_mode='custom'):\n"
             "        if event['event'] in ('route', 'prefetch', 'loading', 'loaded'):\n"
             "            print(' ', {k: v for k, v in event.items() if k in ('event', 'domain', 'model', 'evicted', "
             "'seconds')})\n    print('resident:', team.slot.resident())\n\n"
             "single = Team(profile, GpuSlot('single'))\n"
             "run(single, '¿Puede mi casero echarme del piso sin previo aviso?', 'single-1')\n"
             "run(single, 'How do I reverse a list in Python?', 'single-2')"),
    ("md", "## A memory budget\nWith room for every model, each loads once and stays; the next questions swap "
           "nothing. `CONCILIO_SLOT_BUDGET=6GB` (for example) does this for the process's slot."),
    ("code", "roomy = Team(profile, GpuSlot('1000MB'))\n"
             "for i, q in enumerate(['¿Qué es un contrato de arrendamiento?', 'How do I read a CSV file in Python?',\n"
             "                       'Can my landlord keep my deposit?']):\n    run(roomy, q, f'roomy-{i}')\n"
             "print('loads:', sum(e.kind == 'load' for e in roomy.slot.events), '· states:', roomy.slot.states)"),
    ("md", "## The decisions are pure functions\nWhat to evict under a budget, and whom to serve next when several "
           "runs wait: the loaded model's waiters first, but nobody passed over more than `max_passes` times."),
    ("code", "from agents.slot.policy import Budget, evict_for, pick_next\n\n"
             "budget = Budget(max_models=None, mb=1000, pinned=frozenset({'orchestrator'}))\n"
             "print(evict_for(('legal', 500), [('orchestrator', 400), ('technical', 500)], budget))\n"
             "print(pick_next([('technical', 0), ('legal', 0)], resident={'legal'}))\n"
             "print(pick_next([('technical', 16), ('legal', 0)], resident={'legal'}))"),
]

NOTEBOOKS = {"01_quickstart.ipynb": QUICKSTART, "02_step_through.ipynb": STEP_THROUGH,
             "03_effectiveness.ipynb": EFFECTIVENESS, "04_gpu_slot.ipynb": GPU_SLOT}


def build(name: str):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                for kind, src in NOTEBOOKS[name]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb, timeout: int = 600):
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE.parent)}}
                   ).execute()
    return nb


def main(argv: list[str]) -> int:
    import nbformat

    for name in NOTEBOOKS:
        nb = build(name)
        if "--execute" in argv:
            execute(nb)
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
