"""The program loader: execve's ELF loading and stack, and a spawned program's first image."""
