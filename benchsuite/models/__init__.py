"""Architectures and micro-benchmark block stacks, registered by name."""
from .registry import ModelEntry, check_knobs, create_model, get_model_entry, list_models, register_model

__all__ = ["ModelEntry", "check_knobs", "create_model", "get_model_entry", "list_models", "register_model"]
