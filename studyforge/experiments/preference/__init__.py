"""Week 9: the preference-learning landscape (see the modules' docstrings; the map is written last)."""
