"""Inter-process communication objects of the kernel: System V shared memory."""
