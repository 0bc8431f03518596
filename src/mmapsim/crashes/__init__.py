"""The crash-state explorer: is a persistence protocol safe against a power failure?

At any moment the kernel may write any dirty page back (the writeback daemon,
reclaim, another process's ``msync`` or ``fsync``), so a power failure can leave
on the disk any subset of the pages that are dirty at that moment.  The
explorer runs a scenario, collects those moments (:mod:`.points`), enumerates
the disks they can leave, each distinct content once (:mod:`.states`), boots a
fresh machine on each and runs the scenario's ``recover:`` section
(:mod:`.recovery`), and reports every state whose checks fail (:mod:`.report`).
``mmapsim crashes FILE`` is :func:`mmapsim.crashes.command.explore_file`.
"""
