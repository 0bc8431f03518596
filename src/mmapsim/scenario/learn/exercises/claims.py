"""The lecture's claims, each with a short name; every topic says which ones it asks about.

The texts paraphrase the lecture (``tests/test_lecture.py`` checks each one on
both kernels).  A generated exercise prints the claim above the questions that
test it, so a student knows which sentence of the lecture a question is about.
"""

from __future__ import annotations

CLAIMS: dict[str, str] = {
    "byte-for-byte": "a file mapping is memory correlated byte for byte with part of a file",
    "load-reads-file": "fetching bytes from the buffer reads the corresponding bytes of the file",
    "store-writes-file": "storing into a shared buffer writes the file, without write()",
    "two-kinds": "there are file mappings (persisted) and anonymous mappings (non-persisted)",
    "shared-same-frames": "processes mapping one region of a file share the same physical pages",
    "shared-carried-to-file": "a write to a shared mapping is carried through to the file",
    "ipc-unrelated": "a shared file mapping is IPC between unrelated processes",
    "mmio": "a shared file mapping is memory-mapped I/O: the file is edited in place",
    "fd-names-file": "fd identifies the file to map: every open of the path reaches one file",
    "ipc-related": "a shared mapping is IPC between related processes (parent and child)",
    "private-initially-shared": "private mappings of a file at first share the same physical pages",
    "private-cow": "a write to a private mapping is copy-on-write: the writer gets its own page",
    "private-invisible": "changes to a private mapping are invisible to other processes",
    "private-not-in-file": "changes to a private mapping never reach the file",
    "private-program": "a program's text and data are private file mappings of its executable",
    "anon-zero": "an anonymous mapping has no file behind it: it starts as zeros",
    "anon-private-fork": "private anonymous memory is copied for a child, not shared with it",
    "anon-shared-fork": "shared anonymous memory is shared by parent and child",
    "fork-empty-table": "after fork a child's page table for a file mapping starts empty",
    "mmap-returns-start": "mmap() returns the starting address of the new mapping",
    "null-addr": "with addr NULL the kernel picks an address that conflicts with no mapping",
    "len-rounded": "a mapping's length is rounded up to a multiple of the page size",
    "whole-file": "len = the file's size and offset 0 map the whole file",
    "prot-mask": "prot is a bit mask of PROT_READ, PROT_WRITE and PROT_EXEC",
    "no-write-segv": "a store without PROT_WRITE kills the process with SIGSEGV",
    "flags-shared-private": "flags MAP_SHARED or MAP_PRIVATE decide whether stores reach the file",
    "offset": "offset is where in the file the mapping starts (a multiple of the page size)",
    "anon-fd-ignored": "for an anonymous mapping fd and offset are ignored (normally -1 and 0)",
    "msync-writes-back": "msync() writes the mapping's changes back to the file on disk",
    "ms-sync-waits": "MS_SYNC waits for the update: the data is on disk when msync returns",
    "ms-async": "MS_ASYNC requests the update and returns at once",
    "ms-async-visible": "after MS_ASYNC every reader of the file sees the changes",
    "ms-invalidate": "MS_INVALIDATE makes other mappings of the same file current",
    "msync-page-aligned": "msync's addr is an address mmap returned: a page boundary",
    "munmap-whole": "munmap() with mmap's address and length removes the whole mapping",
    "munmap-part": "munmap() of part of a mapping removes only that part",
    "unmapped-at-exit": "a process's mappings are removed when it terminates",
    "unmapped-at-exec": "a process's mappings are removed when it performs an exec",
    "close-keeps-mapping": "closing the file descriptor does not unmap the region",
    "layout-order": "an address space holds text, data, heap and stack, in that order",
    "mappings-between": "memory mappings lie between the heap and the stack",
    "grow-down": "a later mapping lies below an earlier one: mappings grow down",
    "eof-zero-tail": "the rest of the last page, past the end of the file, reads as zeros",
    "eof-sigbus": "a page wholly beyond the end of the file gives SIGBUS",
}
