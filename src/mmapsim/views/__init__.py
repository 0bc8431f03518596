"""Views shared by the scenario commands and the page.

An address space's regions, read from /proc alone, and their drawing.
"""
