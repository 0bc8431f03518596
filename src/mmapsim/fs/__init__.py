"""The file system: inodes, the page cache, open file descriptions, fd tables."""
