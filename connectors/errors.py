class SourceError(Exception):
    """A source cannot be read (unreachable, missing table/column, wrong encoding). One-line message.

    The message is masked (`mask_text`): a driver or parser error quoting a source value never carries a full
    ID number or phone number into the run log, the console or Dagster's event log."""

    def __init__(self, message: str):
        from schemas.normalise.masking import mask_text  # lazy: `gridbridge --help` stays light

        super().__init__(mask_text(str(message)))
