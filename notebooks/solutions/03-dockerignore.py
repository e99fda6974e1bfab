# Challenge 03-dockerignore: one solution. One folder per line; the code and the lock file stay.
IGNORE = """\
data/
.venv/
.git/
"""
