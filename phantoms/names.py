"""Made-up patient names for burned-in headers and DICOM tags (no real person's data)."""

from __future__ import annotations

import numpy as np

_SURNAME_START = (
    "Bra",
    "Cor",
    "Del",
    "Fen",
    "Gal",
    "Hor",
    "Jen",
    "Kal",
    "Lun",
    "Mor",
    "Nel",
    "Ost",
    "Pel",
    "Quin",
    "Ros",
    "Sal",
    "Tor",
    "Ulm",
    "Vash",
    "Wen",
    "Yar",
    "Zel",
)
_SURNAME_END = (
    "adin",
    "berg",
    "cott",
    "denna",
    "fors",
    "gard",
    "holm",
    "ikka",
    "lund",
    "marr",
    "nori",
    "quist",
    "rova",
    "stane",
    "vik",
    "wynne",
)
_GIVEN = (
    "Ada",
    "Bela",
    "Cira",
    "Dena",
    "Elin",
    "Fara",
    "Gila",
    "Hanne",
    "Iva",
    "Jora",
    "Kira",
    "Lena",
    "Mira",
    "Nora",
    "Orla",
    "Pia",
    "Rhea",
    "Sela",
    "Tara",
    "Una",
    "Vera",
    "Wren",
    "Yana",
    "Zara",
)


def made_up_name(rng: np.random.Generator) -> tuple[str, str]:
    """(family name, given name) built from syllables."""
    family = str(rng.choice(_SURNAME_START)) + str(rng.choice(_SURNAME_END))
    given = str(rng.choice(_GIVEN))
    return family, given


def dicom_person_name(family: str, given: str) -> str:
    """DICOM PN form: FAMILY^Given."""
    return f"{family.upper()}^{given}"


def header_person_name(family: str, given: str) -> str:
    """How scanners print it in the header."""
    return f"{family.upper()}, {given}"
