"""Running checked scenarios on a machine.

Evaluation, expects, the show views, comparing two runs, and what the batch and
interactive commands do.
"""
