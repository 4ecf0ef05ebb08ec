"""Bolt listeners: slash commands, button actions, modal submissions, checklists, nudges."""
