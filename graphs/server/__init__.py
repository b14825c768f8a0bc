"""`concilio serve`: one resident concilio for the machine, behind the OpenAI chat API.

wire.py (the API's shapes, pure), service.py (the slot, the team and the runs it owns), app.py (FastAPI routes),
client.py (graphs.api.ask through a running server). Finding a server from another process, and the slot such a
process uses, live in agents/slot/remote.py.
"""
