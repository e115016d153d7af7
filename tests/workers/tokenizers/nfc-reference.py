#!/usr/bin/python3
"""Reference NFC cases for t2's normaliser, from Python's unicodedata: every code point with a
canonical decomposition (as itself and as its NFD), Hangul syllables as jamo, and seeded random
mixes of base letters and combining marks. Prints one JSON list of [input, nfc] pairs."""
import json
import random
import sys
import unicodedata as ud

cases = []
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
        continue
    c = chr(cp)
    d = ud.decomposition(c)
    if d and not d.startswith("<"):
        cases.append(c)
        cases.append(ud.normalize("NFD", c))
for cp in range(0xAC00, 0xD7A4, 97):
    cases.append(ud.normalize("NFD", chr(cp)))
rng = random.Random(7)
bases = "aeiouAEOUnNcCsSzZ\u03b1\u03b7\u03c9\u0430\u0435\u0438\u1100\u1161\u11a8 "
marks = [chr(c) for c in list(range(0x300, 0x370)) + [0x1dc0, 0x20d0, 0x0591, 0x05b0, 0x0323, 0x0328, 0x031b]]
for _ in range(4000):
    s = "".join(rng.choice(bases) + "".join(rng.choice(marks) for _ in range(rng.randint(0, 3)))
                for _ in range(rng.randint(1, 4)))
    cases.append(s)
json.dump([[s, ud.normalize("NFC", s)] for s in cases], sys.stdout, ensure_ascii=False)
