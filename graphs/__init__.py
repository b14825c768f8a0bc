"""The cooperation graph (graphs/cooperation.py), its state and routing, and the CLI."""
