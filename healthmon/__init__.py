"""healthmon core: settings, storage, queue and helpers shared by the API, scheduler and checker.

Nothing in this package imports Flask, so the scheduler and checker processes stay light.
"""

__version__ = "0.1.0"
