"""Files: crash-safe writes (``fsutil``), content hashes (``hashing``) and reading an export back (``exports``)."""
