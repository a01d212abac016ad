"""Walks the TCP option bytes of a segment: one walk for the peer (which
reads the SUT's options) and the report (which names them)."""


def walk(b):
    """Yields (kind, value bytes) per option; (None, None) for a malformed
    length, after which nothing more can be read. Stops at EOL."""
    i = 0
    while i < len(b):
        k = b[i]
        if k == 0:
            return
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(b) or b[i + 1] < 2:
            yield None, None
            return
        ln = b[i + 1]
        yield k, b[i + 2:i + ln]
        i += ln
