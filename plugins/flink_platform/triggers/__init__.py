"""Triggers for our deferrable sensors."""
