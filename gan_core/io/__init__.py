"""Files: crash-safe writes (``fsutil``) and content hashes (``hashing``)."""
