"""User space: code that runs in a process and makes system calls (ld.so), never called by them."""
