class SourceError(Exception):
    """A source cannot be read (unreachable, missing table/column, wrong encoding). One-line message."""
