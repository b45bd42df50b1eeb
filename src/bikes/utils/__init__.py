"""Utilities: splitters, searchers, signers and the start-up of a job process."""
