"""Chat platforms, one package each, on the shared render core; base.py holds what they share."""
