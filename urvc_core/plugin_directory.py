"""Which published plugin provides a backend or preset that is not installed, for hints.

The kernel imports no plugin and works over whatever is installed. When a user asks for
something nobody installed (``--separation lead-clean`` without the UVR plugin, an
effect without the pedalboard plugin), the error should still say what to install: this
directory, like llm's plugin directory page, maps the names the project's own plugins
provide to their distribution. It is text for messages, nothing more; a third-party
plugin is found through its entry point whether or not it is listed here.
"""

from __future__ import annotations

__all__ = ["install_hint", "providing_plugin"]

_SEPARATOR_MDX = "urvc-separator-mdx"
_EFFECTS_PEDALBOARD = "urvc-effects-pedalboard"
_F0_RMVPE = "urvc-f0-rmvpe"
_SEPARATOR_SPLEETER = "urvc-separator-spleeter"
_SEPARATOR_ASTEROID = "urvc-separator-asteroid"
_TTS_COQUI = "urvc-tts-coqui"

#: (kind, name) -> distribution; a name of ``*`` stands for every name of that kind
#: that no other entry claims.
_DIRECTORY: dict[tuple[str, str], str] = {
    ("separator", "mdx"): _SEPARATOR_MDX,
    ("separator", "mdxc"): _SEPARATOR_MDX,
    ("separator", "vr"): _SEPARATOR_MDX,
    ("separator", "demucs"): _SEPARATOR_MDX,
    ("separation preset", "vocals"): _SEPARATOR_MDX,
    ("separation preset", "karaoke"): _SEPARATOR_MDX,
    ("separation preset", "dereverb"): _SEPARATOR_MDX,
    ("separation preset", "lead-clean"): _SEPARATOR_MDX,
    ("separator", "spleeter"): _SEPARATOR_SPLEETER,
    ("separation preset", "spleeter"): _SEPARATOR_SPLEETER,
    ("separator", "asteroid"): _SEPARATOR_ASTEROID,
    ("separation preset", "asteroid"): _SEPARATOR_ASTEROID,
    ("f0", "rmvpe"): _F0_RMVPE,
    ("tts", "coqui"): _TTS_COQUI,
    ("effect", "*"): _EFFECTS_PEDALBOARD,
    ("effect preset", "*"): _EFFECTS_PEDALBOARD,
}


def providing_plugin(kind: str, name: str) -> str | None:
    """The distribution that provides ``name`` of ``kind``, if one of urvc's own does."""
    return _DIRECTORY.get((kind, name)) or _DIRECTORY.get((kind, "*"))


def install_hint(kind: str, name: str) -> str:
    """`` install urvc-separator-mdx (`urvc install urvc-separator-mdx`)``, or ``""``."""
    plugin = providing_plugin(kind, name)
    if plugin is None:
        return ""
    return f"install {plugin} (`urvc install {plugin}`)"
