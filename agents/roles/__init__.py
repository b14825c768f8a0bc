"""The roles that call models: orchestrator, specialists, reviewer; the team that runs them; context fitting."""
