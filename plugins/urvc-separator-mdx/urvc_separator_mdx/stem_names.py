"""What urvc calls the stems that audio-separator writes.

audio-separator names a stem after the model's training data: ``Vocals``,
``Instrumental``, ``other``, ``No Reverb``, ``noreverb``, ``Dry``... with no fixed case or
spelling, and a karaoke model's ``Vocals`` are the lead voice only. urvc names a stem by
what it is in a cover:

=====================  ================================================================
urvc stem              from
=====================  ================================================================
``Vocals``             ``vocals`` of a vocal/instrumental model
``Instrumental``       the other stem of a two-stem vocal model (``instrumental``,
                       ``other``, ``no vocals``)
``Main``, ``Backup``   a karaoke or backing-vocal model's ``vocals`` (the lead) and
                       ``instrumental`` (everything else: the backing vocals, when the
                       input is a vocal stem)
``No Reverb``          ``no reverb``, ``noreverb``, ``dry`` (UVR's "dry" is de-reverbed)
``Reverb``             ``reverb``, ``no dry``
``No Echo``, ``Echo``  de-echo models
anything else          title case: ``drums`` becomes ``Drums``, ``no piano`` ``No Piano``
=====================  ================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

VOCALS = "Vocals"
INSTRUMENTAL = "Instrumental"
MAIN = "Main"
BACKUP = "Backup"
NO_REVERB = "No Reverb"
REVERB = "Reverb"
NO_ECHO = "No Echo"
ECHO = "Echo"

_FIXED = {
    "reverb": REVERB,
    "no reverb": NO_REVERB,
    "noreverb": NO_REVERB,
    "dry": NO_REVERB,
    "no dry": REVERB,
    "echo": ECHO,
    "no echo": NO_ECHO,
    "noecho": NO_ECHO,
    "lead_only": MAIN,
    "lead vocals": MAIN,
    "backing_only": BACKUP,
    "backing vocals": BACKUP,
}
_VOCAL_WORDS = frozenset({"vocals", "vocal", "voice"})
_ACCOMPANIMENT_WORDS = frozenset(
    {"instrumental", "instrument", "inst", "other", "others", "no vocals", "accompaniment"}
)


def urvc_stem_names(raw_stems: Sequence[str], *, karaoke: bool = False) -> dict[str, str]:
    """Map each of a model's stem names to urvc's name for it.

    ``karaoke`` marks a model that splits the lead voice from everything else (UVR's
    karaoke and backing-vocal models). Two stems that would get the same urvc name keep
    their own (title-cased) names instead, so no stem is ever lost.
    """
    keys = [raw.strip().lower() for raw in raw_stems]
    vocal_pair = len(keys) == 2 and any(k in _VOCAL_WORDS for k in keys)
    names: dict[str, str] = {}
    for raw, key in zip(raw_stems, keys, strict=True):
        if key in _FIXED:
            name = _FIXED[key]
        elif karaoke and vocal_pair:
            name = MAIN if key in _VOCAL_WORDS else BACKUP
        elif key in _VOCAL_WORDS:
            name = VOCALS
        elif vocal_pair and key in _ACCOMPANIMENT_WORDS:
            name = INSTRUMENTAL
        else:
            name = _title(raw)
        names[raw] = name
    if len(set(names.values())) < len(names):
        return {raw: _title(raw) for raw in raw_stems}
    return names


def title_case(raw: str) -> str:
    """A stem name audio-separator spelled in lower case, as urvc spells stems: ``No Piano``."""
    return _title(raw)


def _title(raw: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in raw.strip().split())
