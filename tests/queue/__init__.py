"""Plain unit tests of the queue's pure parts, mirroring moxpy/queue/."""
