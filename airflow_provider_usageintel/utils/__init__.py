"""Helpers shared by operators and transfers."""
