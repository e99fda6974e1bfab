"""Count the words of a text file and print the most common ones."""

import collections
import re
import sys

import six

text = open(sys.argv[1], encoding="utf-8").read()
words = re.findall(r"[a-z']+", text.lower())
print(six.ensure_str(f"{len(words)} words, {len(set(words))} distinct"))
for word, n in collections.Counter(words).most_common(5):
    print(f"{n:4d} {word}")
