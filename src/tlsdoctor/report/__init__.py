"""Reports: the values the analysis made, written for people (terminal, HTML, Markdown) and programs (JSON)."""
