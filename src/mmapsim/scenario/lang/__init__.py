"""The scenario language itself: lexing, parsing, checking, calls and values.

Nothing here runs a machine; :mod:`mmapsim.scenario.run` does.
"""
