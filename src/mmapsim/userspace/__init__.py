"""User space that the simulated kernel runs but does not contain: the dynamic loader (ld.so)."""
