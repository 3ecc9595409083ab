"""A plugin package whose only plugin misspells a hook name."""
