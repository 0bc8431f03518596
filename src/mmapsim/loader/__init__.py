"""The program loader: execve's ELF loading, the initial stack, the dynamic loader's mappings."""
