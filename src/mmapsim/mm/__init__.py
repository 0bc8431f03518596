"""Memory management: VMAs, page tables, faults, address spaces, /proc views."""
