"""Week 9's registered studies, one module each."""
