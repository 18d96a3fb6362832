"""Pure, vectorised normalisers for Chinese person/house records (one module per kind of value)."""
