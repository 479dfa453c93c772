"""Colour-vision plates the project generates itself (no licensed plate images needed).

`cvd` holds the colour science (sRGB, CIELAB, the Machado et al. 2009 simulation of
protan and deutan vision); `palette` picks figure/ground colours on the confusion lines;
`draw` lays the dots; `generate` writes a pool of plates with plates.json; `index` reads
that pool and draws a random set of plates for one session.
"""
