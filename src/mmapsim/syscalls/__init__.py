"""System calls: one function each, checking arguments in Linux's order.

Each function takes already-decoded arguments (see :mod:`mmapsim.abi`), fails with
an ``OSError`` carrying Linux's errno before changing anything (unless Linux
itself leaves a partial effect, which its docstring then says), and otherwise
makes one call into the memory-management or file-system layer.
"""
