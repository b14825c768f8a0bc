"""concilio's agents: one module per role (orchestrator, legal, technical, reviewer), the model
profiles, the backends, and the GPU slot. No LangGraph in here, and nothing loads at import."""
