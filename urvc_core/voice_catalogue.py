"""The catalogue of public voice models: search it, refresh it, download from it.

The catalogue is a JSON file in the community's layout, the one AICoverGen and Ultimate
RVC ship (``rvc_models/public_models.json``): ``tags`` (name to description, or a list
of ``{name, description}``) and ``voice_models`` (or ``models``), each with ``name``,
``url``, ``description``, ``added`` (a date), ``credit`` and ``tags``. urvc ships a
snapshot of the community's list (``urvc_core/data/voice_catalogue.json``, without its
entries of real people) and searches it offline; ``urvc models catalogue update``
fetches the community's current list through the asset store (asset
``voice-catalogue``; ``[asset_paths]`` can point it at a list of your own), checks it,
and searches that from then on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_core.assets import Asset
from urvc_core.errors import UrvcError

__all__ = [
    "CATALOGUE_ASSET",
    "CatalogueEntry",
    "VoiceCatalogue",
    "find_catalogue_entry",
    "load_catalogue",
    "read_catalogue",
    "search_catalogue",
    "update_catalogue",
]

CATALOGUE_ASSET = Asset(
    "voice-catalogue",
    "https://raw.githubusercontent.com/SociallyIneptWeeb/AICoverGen/main/rvc_models/"
    "public_models.json",
    "voice-catalogue/public_models.json",
    description="The community's list of public voice models (AICoverGen's), for "
    "`urvc models search`; refreshed by `urvc models catalogue update`",
)
SHIPPED_CATALOGUE = Path(__file__).parent / "data" / "voice_catalogue.json"


@dataclass(frozen=True)
class CatalogueEntry:
    """One public voice model of the catalogue."""

    name: str
    url: str
    description: str = ""
    tags: tuple[str, ...] = ()
    added: str = ""
    credit: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "description": self.description,
            "tags": list(self.tags),
            "added": self.added,
            "credit": self.credit,
        }


@dataclass(frozen=True)
class VoiceCatalogue:
    """The catalogue in use: its entries, its tags, and which file they came from."""

    entries: tuple[CatalogueEntry, ...]
    tags: dict[str, str]
    path: Path
    #: Whether it is a list fetched by ``urvc models catalogue update`` (else urvc's own).
    updated: bool
    #: Rows left out: no name, or no http(s) URL.
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "updated": self.updated,
            "models": len(self.entries),
            "skipped": self.skipped,
            "tags": self.tags,
        }


def read_catalogue(path: Path, *, shown: str | None = None) -> VoiceCatalogue:
    """The catalogue in ``path`` (called ``shown`` in errors); rows without a name or an
    http(s) URL are skipped (counted in ``skipped``).

    Raises:
        UrvcError: the file can't be read, is not JSON, or is not a catalogue.
    """
    path = Path(path)
    shown = shown or str(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UrvcError(f"Can't read the voice catalogue {shown}: {exc.strerror or exc}.") from None
    except ValueError as exc:
        raise UrvcError(f"The voice catalogue {shown} is not JSON ({exc}).") from None
    rows = (
        document.get("voice_models", document.get("models")) if isinstance(document, dict) else None
    )
    if not isinstance(rows, list):
        raise UrvcError(
            f"{shown} is not a voice catalogue: it has no 'voice_models' (or 'models') list."
        )
    entries, skipped = [], 0
    for row in rows:
        entry = _entry(row)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return VoiceCatalogue(
        tuple(entries), _tags(document.get("tags")), path, updated=False, skipped=skipped
    )


def _entry(row: Any) -> CatalogueEntry | None:
    if not isinstance(row, dict):
        return None
    name, url = str(row.get("name") or "").strip(), str(row.get("url") or "").strip()
    if not name or not url.lower().startswith(("http://", "https://")):
        return None
    tags = row.get("tags") or []
    return CatalogueEntry(
        name=name,
        url=url,
        description=str(row.get("description") or "").strip(),
        tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else (),
        added=str(row.get("added") or ""),
        credit=str(row.get("credit") or ""),
    )


def _tags(declared: Any) -> dict[str, str]:
    if isinstance(declared, dict):
        return {str(name): str(text) for name, text in declared.items()}
    if isinstance(declared, list):
        return {
            str(tag["name"]): str(tag.get("description", ""))
            for tag in declared
            if isinstance(tag, dict) and "name" in tag
        }
    return {}


def _updated_path() -> Path:
    from urvc_core.catalogue import asset_store

    return asset_store().path_for(CATALOGUE_ASSET)


def load_catalogue() -> VoiceCatalogue:
    """The catalogue to search: the list ``update`` fetched where there is one (and it
    reads), else the one urvc ships."""
    updated = _updated_path()
    if updated.is_file():
        try:
            catalogue = read_catalogue(updated)
        except UrvcError:
            pass  # a damaged update: urvc's own list still serves
        else:
            return VoiceCatalogue(
                catalogue.entries, catalogue.tags, updated, True, catalogue.skipped
            )
    return read_catalogue(SHIPPED_CATALOGUE)


def update_catalogue(*, url: str | None = None, progress: bool = True) -> VoiceCatalogue:
    """Fetch the community's current list (or the one at ``url``, in the same layout)
    through the asset store and use it from now on. The list is checked before it
    replaces the one in use, so a bad download leaves that one as it was.

    Raises:
        UrvcError: offline, the download failed, or what came is not a catalogue.
    """
    import tempfile

    from urvc_core.catalogue import asset_store

    store = asset_store()
    destination = store.path_for(CATALOGUE_ASSET)
    if CATALOGUE_ASSET.name in store.overrides:
        # The user's own list, named in [asset_paths]: read, never replaced.
        return load_catalogue()
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".update-") as staging:
        fetched = Path(staging) / destination.name
        source = url or CATALOGUE_ASSET.url
        store.download(source, fetched, progress=progress, description="voice catalogue")
        try:
            checked = read_catalogue(fetched, shown=source)
        except UrvcError as exc:
            raise UrvcError(f"{str(exc).rstrip('.')}; the one in use is kept.") from None
        if not checked.entries:
            raise UrvcError(
                f"The voice catalogue from {source} lists no models; the one in use is kept."
            )
        os.replace(fetched, destination)
    return load_catalogue()


def search_catalogue(
    query: str = "", *, tags: Sequence[str] = (), limit: int | None = None
) -> list[CatalogueEntry]:
    """The entries whose name, description, credit or tags hold every word of ``query``
    (regardless of case) and that carry every tag of ``tags``: names that match first
    (the whole name, then its start), then the newest."""
    catalogue = load_catalogue()
    known = {tag.casefold(): tag for entry in catalogue.entries for tag in entry.tags}
    known.update({tag.casefold(): tag for tag in catalogue.tags})
    for tag in tags:
        if tag.casefold() not in known:
            listed = ", ".join(sorted(known.values()))
            raise UrvcError(f"The voice catalogue has no tag '{tag}'; its tags: {listed}.")
    words = query.casefold().split()
    wanted_tags = {tag.casefold() for tag in tags}
    found = []
    for entry in catalogue.entries:
        entry_tags = {tag.casefold() for tag in entry.tags}
        text = " ".join([entry.name, entry.description, entry.credit, *entry.tags]).casefold()
        if wanted_tags <= entry_tags and all(word in text for word in words):
            found.append(entry)

    phrase = " ".join(words)

    def closeness(entry: CatalogueEntry) -> int:
        name = entry.name.casefold()
        if not phrase:
            return 0
        return 0 if name == phrase else 1 if name.startswith(phrase) else 2 if phrase in name else 3

    # Newest first (dates are YYYY-MM-DD), then by how well the name matches: sorts keep
    # the order of equals, so the newest stay first within each rank.
    found.sort(key=lambda entry: entry.added, reverse=True)
    found.sort(key=closeness)
    return found[:limit] if limit is not None else found


def find_catalogue_entry(name: str) -> CatalogueEntry:
    """The catalogue entry called ``name`` (regardless of case).

    Raises:
        UrvcError: no entry has that name (with the closest names), or several do.
    """
    import difflib

    catalogue = load_catalogue()
    matches = [e for e in catalogue.entries if e.name.casefold() == name.strip().casefold()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = "; ".join(f"{e.description or e.name}: {e.url}" for e in matches)
        raise UrvcError(
            f"The voice catalogue has {len(matches)} models named '{name}' ({listed}); "
            f"download the one you want by its URL."
        )
    names = [entry.name for entry in catalogue.entries]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise UrvcError(
        f"'{name}' is neither a URL nor a model of the voice catalogue{hint}; `urvc models "
        f"search {name}` searches it."
    )
