"""Pure, vectorised normalisers for Chinese person/house records (one module per kind of value).

Every function takes a pandas Series of str/None and returns new objects aligned with its index;
inputs are never modified and missing input gives missing output. Heavy resources (OpenCC, pypinyin,
code and division tables) load lazily on first use.
"""
from .addresses import canonical_address, parse_address
from .dates import parse_date, parse_timestamp
from .gazetteer import Gazetteer, learn_gazetteer
from .ids import id_birth_date, id_sex, is_valid_checksum, normalise_id
from .names import normalise_name, shape_key
from .masking import mask_text
from .phones import mask_id, mask_phone, normalise_phone
from ._text import NULL_WORDS, factorize_text

__all__ = [
    "Gazetteer", "NULL_WORDS", "canonical_address", "factorize_text", "id_birth_date", "id_sex", "is_valid_checksum",
    "learn_gazetteer", "mask_id", "mask_phone", "mask_text", "normalise_id", "normalise_name", "normalise_phone",
    "parse_address", "parse_date", "parse_timestamp", "shape_key",
]
