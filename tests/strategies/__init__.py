"""Hypothesis strategies of the test suite, in one place.

- :mod:`strategies.vma_window`: mmap/munmap/mprotect in a small window of the
  address space, for the VMA set's property test;
- :mod:`strategies.programs`: random programs of memory and file calls over
  1-3 processes, for the differential test against the real kernel, with the
  calls of :mod:`strategies.ipc_programs` (shared memory, memfd, dup, waitpid).
"""
