"""Asset names and groups in one place."""
from schemas.canonical import ENTITIES, SOURCES

GROUP_EXTRACT, GROUP_STANDARDISE, GROUP_MATCH, GROUP_RECONCILE, GROUP_PUBLISH = (
    "extract", "standardise", "match", "reconcile", "publish")
SOURCE_ENTITIES = [(s, e) for s in SOURCES for e in ENTITIES]


def raw(source: str, entity: str) -> str:
    return f"raw_{source}_{entity}"


def stg(source: str, entity: str) -> str:
    return f"stg_{source}_{entity}"


def quarantined(source: str, entity: str) -> str:
    return f"quarantine_{source}_{entity}"

EXIT_USER_ERROR = 2   # CLI exit code for a user error (bad config, missing data, unreachable source)


def fail(message: str) -> int:
    """Print a user error as one `gridbridge: …` line on stderr (ID numbers and phones masked); the exit code."""
    import sys

    from schemas.normalise.masking import mask_text
    print(f"gridbridge: {mask_text(message)}", file=sys.stderr)
    return EXIT_USER_ERROR
