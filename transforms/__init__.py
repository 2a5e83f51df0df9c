"""Composite Beam transforms, one module per stage, over pure functions."""
