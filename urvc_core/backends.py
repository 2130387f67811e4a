"""The six kinds of backend and the contract each one keeps.

A plugin provides backends by subclassing one of the base classes below and handing the
class to the kernel through a ``register_<kind>s(register)`` hook (see
:mod:`urvc_core.hookspecs`). The kernel instantiates a backend with its settings only
when it is used, so registering one costs nothing: keep heavy imports (torch, model
weights) inside the methods.

The contract is deliberately narrow: numpy arrays and plain values in, numpy arrays and
plain values out, :class:`~urvc_core.errors.UrvcError` for anything the user can fix.
That is what lets a backend whose dependencies clash with the rest (spleeter's numpy<2
and TensorFlow, say) run in a worker process of its own virtual environment behind the
very same class: see ``docs/isolated-backends.md``.

Shapes and units used throughout:

* audio is ``float32`` in ``[-1, 1]``, shaped ``(channels, samples)``, wrapped in
  :class:`Audio` together with its sample rate;
* pitch is in Hz, one value per hop, ``0`` where a frame is unvoiced;
* content features are ``(frames, dim)`` float32 at 50 frames per second of 16 kHz audio.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from urvc_core.errors import InvalidSettingError, UrvcError, backend_errors


class BackendKind(enum.StrEnum):
    """The six kinds of backend a plugin can provide."""

    SEPARATOR = "separator"
    F0_EXTRACTOR = "f0"
    EMBEDDER = "embedder"
    TTS_ENGINE = "tts"
    EFFECT = "effect"
    FUSION_METHOD = "fusion"

    @property
    def label(self) -> str:
        """How the kind reads in a sentence ("f0 extractor", "TTS engine")."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    BackendKind.SEPARATOR: "separator",
    BackendKind.F0_EXTRACTOR: "f0 extractor",
    BackendKind.EMBEDDER: "embedder",
    BackendKind.TTS_ENGINE: "TTS engine",
    BackendKind.EFFECT: "effect",
    BackendKind.FUSION_METHOD: "fusion method",
}


@dataclass(frozen=True)
class Audio:
    """A piece of audio: float32 samples shaped ``(channels, samples)`` and a sample rate."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples)
        if samples.ndim == 1:
            samples = samples[np.newaxis, :]
        if samples.ndim != 2:
            raise UrvcError(
                f"Audio must be shaped (channels, samples); got an array of shape {samples.shape}."
            )
        if samples.dtype != np.float32:
            samples = samples.astype(np.float32)
        if self.sample_rate <= 0:
            raise UrvcError(f"Audio sample rate must be positive; got {self.sample_rate}.")
        object.__setattr__(self, "samples", samples)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate

    def to_mono(self) -> Audio:
        """The channels averaged into one."""
        if self.channels == 1:
            return self
        return Audio(self.samples.mean(axis=0, keepdims=True), self.sample_rate)


@dataclass(frozen=True)
class Setting:
    """One setting a backend takes, with its type, range, unit and meaning.

    Settings are declared on the backend class (``settings = (Setting(...), ...)``) so that
    the CLI can list them, the registry can check values before any work starts, and a
    bad value gets an error that names the valid range instead of failing deep inside.
    """

    name: str
    type: type
    default: Any
    help: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def check(self, value: Any, owner: str) -> Any:
        """Return ``value`` converted to this setting's type, or raise InvalidSettingError."""
        if value is None and self.default is None:
            return None
        value = self._convert(value, owner)
        if self.choices is not None and value not in self.choices:
            choices = ", ".join(str(c) for c in self.choices)
            raise InvalidSettingError(f"{owner}: {self.name}={value!r} is not one of: {choices}.")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidSettingError(f"{owner}: {self.name} must be a finite number.")
            low = -math.inf if self.minimum is None else self.minimum
            high = math.inf if self.maximum is None else self.maximum
            if not low <= value <= high:
                raise InvalidSettingError(
                    f"{owner}: {self.name}={value} is out of range; "
                    f"use a value from {self.describe_range()}."
                )
        return value

    def describe_range(self) -> str:
        """The range as a person reads it: "0 to 1", "-60 to 0 dB", "at least 1"."""
        unit = f" {self.unit}" if self.unit else ""
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum:g} to {self.maximum:g}{unit}"
        if self.minimum is not None:
            return f"at least {self.minimum:g}{unit}"
        if self.maximum is not None:
            return f"at most {self.maximum:g}{unit}"
        return "any value"

    def _convert(self, value: Any, owner: str) -> Any:
        if self.type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
                return True
            if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
                return False
            raise InvalidSettingError(f"{owner}: {self.name} must be true or false; got {value!r}.")
        if self.type in (int, float) and isinstance(value, bool):
            raise InvalidSettingError(f"{owner}: {self.name} must be a number; got {value!r}.")
        try:
            converted = self.type(value)
        except (TypeError, ValueError):
            raise InvalidSettingError(
                f"{owner}: {self.name} must be {self.type.__name__}; got {value!r}."
            ) from None
        if self.type is int and isinstance(value, float) and not value.is_integer():
            raise InvalidSettingError(f"{owner}: {self.name} must be a whole number; got {value}.")
        return converted

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description, for ``--json`` listings and docs."""
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "unit": self.unit,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices) if self.choices is not None else None,
            "help": self.help,
        }


#: How a torch device is spelled in a ``device`` setting.
DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(?::\d+)?")


@dataclass(frozen=True)
class DeviceSetting(Setting):
    """A ``device`` setting: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Only the spelling is checked here, when the setting is given; whether torch sees
    that device is for :func:`urvc_core.devices.resolve_device` to say, when a model is
    loaded on it. ``metavar`` shows the form of a value in ``--help``.
    """

    metavar: str | None = "auto|cpu|cuda[:N]|mps"

    def check(self, value: Any, owner: str) -> Any:
        if value is None and self.default is None:
            return None
        name = str(value).strip().lower()
        if "," in name:
            raise InvalidSettingError(
                f"{owner}: {self.name}={value!r} names several devices; give one here "
                f"(a batch of files is spread over several by `urvc convert --device "
                f"cuda:0,cuda:1` and convert_voices(devices=[...]))."
            )
        if not DEVICE_NAME.fullmatch(name):
            raise InvalidSettingError(
                f"{owner}: {self.name}={value!r} is not a device; use "
                f"{self.describe_range()} (N counts GPUs from 0)."
            )
        return name

    def describe_range(self) -> str:
        return "auto, cpu, cuda, cuda:N or mps"


class Backend:
    """What every backend has: a name, a description and declared settings.

    Subclasses set the class attributes; instances hold checked settings in
    ``self.options``. ``__init__`` takes the settings as keyword arguments and rejects
    unknown names and bad values with an :class:`~urvc_core.errors.InvalidSettingError`.
    """

    kind: ClassVar[BackendKind]
    #: The name users type (``--f0-method harvest``); lowercase, digits and dashes.
    name: ClassVar[str]
    #: One line shown by ``urvc backends``.
    description: ClassVar[str] = ""
    settings: ClassVar[tuple[Setting, ...]] = ()
    #: Python modules the backend needs at run time; ``urvc doctor`` checks them.
    requires_modules: ClassVar[tuple[str, ...]] = ()
    #: The plugin that registered the class, set by the registry; named in errors.
    plugin_name: ClassVar[str] = ""
    #: The methods that do the kind's work. An exception other than a UrvcError escaping
    #: one of them reaches the user as a BackendError naming the plugin and the backend.
    work_methods: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method_name in cls.work_methods:
            method = cls.__dict__.get(method_name)
            if method is not None:
                setattr(cls, method_name, _with_backend_errors(method))

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = self.check_settings(options)

    @classmethod
    def check_settings(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Settings filled with defaults and checked; raises InvalidSettingError."""
        owner = f"{cls.kind.label} '{cls.name}'"
        known = {setting.name: setting for setting in cls.settings}
        unknown = sorted(set(options) - set(known))
        if unknown:
            valid = ", ".join(known) or "none"
            raise InvalidSettingError(
                f"{owner} has no setting {', '.join(repr(u) for u in unknown)}; "
                f"its settings are: {valid}."
            )
        return {
            setting.name: setting.check(options.get(setting.name, setting.default), owner)
            for setting in cls.settings
        }

    @classmethod
    def missing_modules(cls) -> list[str]:
        """The required modules that can't be found, without importing them."""
        import importlib.util

        return [m for m in cls.requires_modules if importlib.util.find_spec(m) is None]


def _with_backend_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Backend, *args: Any, **kwargs: Any) -> Any:
        backend = type(self)
        with backend_errors(
            backend.kind.label, backend.name, backend.plugin_name or backend.__module__
        ):
            return method(self, *args, **kwargs)

    return wrapper


class Separator(Backend):
    """Splits a mixture into named stems.

    ``separate`` takes :class:`Audio` of any sample rate and channel count and returns a
    mapping from stem name to :class:`Audio` with the *same* sample rate, channel count
    and length as the input. Stem names say what the stem is: ``Vocals``,
    ``Instrumental``, ``Backup``, ``Reverb``, ``No Reverb``... and are listed in
    ``stems`` (a backend whose stems depend on its model may list them per instance).
    """

    kind = BackendKind.SEPARATOR
    work_methods: ClassVar[tuple[str, ...]] = ("separate",)
    stems: tuple[str, ...] = ()

    def separate(self, audio: Audio) -> dict[str, Audio]:
        raise NotImplementedError


class F0Extractor(Backend):
    """Measures the fundamental frequency (pitch) of a voice over time.

    ``extract_f0`` takes mono float samples at ``sample_rate`` and returns float32 Hz,
    one value per ``hop_length`` samples: ``len(samples) // hop_length + 1`` values,
    value ``i`` centred on sample ``i * hop_length``. Unvoiced frames are ``0``. Voiced
    values lie within ``[f0_min, f0_max]``. RVC computes pitch on 16 kHz audio with a
    hop of 160 (100 frames per second); other rates must work too.

    A backend implements :meth:`estimate_f0` only. ``extract_f0`` keeps the contract
    around it, the same for every backend:

    * it refuses bad arguments with a :class:`~urvc_core.errors.UrvcError`: samples
      that are not mono floats (``(samples,)`` or ``(1, samples)``), a sample rate or
      hop that is not positive, a range other than ``0 < f0_min < f0_max``;
    * it answers empty input with one unvoiced frame, without asking the backend;
    * it fits the estimate to exactly the frame count: frames missing at the end are
      unvoiced, extra ones are dropped;
    * it makes NaN, infinite, negative and out-of-range values unvoiced, except that a
      value within a quarter of a semitone outside the range is clamped onto it
      (refinement and interpolation nudge a pitch on the edge a hair beyond);
    * it returns float32.
    """

    kind = BackendKind.F0_EXTRACTOR
    # Both, so that a backend overriding extract_f0 itself is wrapped as well.
    work_methods: ClassVar[tuple[str, ...]] = ("extract_f0", "estimate_f0")
    #: True where ``estimate_f0`` spends its time in code that lets other Python threads
    #: run (torch, WORLD's C++): then several f0 methods asked for at once run side by
    #: side in threads (:func:`urvc_core.rvc.pitch.extract_pitch`). The default, False,
    #: keeps the backend in the calling thread, which is always safe.
    releases_gil: ClassVar[bool] = False

    def extract_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int = 160,
        f0_min: float = 50.0,
        f0_max: float = 1100.0,
    ) -> np.ndarray:
        """The pitch of ``samples`` in Hz per hop, on the contract of the class docstring."""
        signal = _checked_mono_samples(samples, sample_rate, hop_length, f0_min, f0_max)
        frame_count = self.frame_count(len(signal), hop_length)
        if len(signal) == 0:
            return np.zeros(frame_count, dtype=np.float32)
        estimate = np.asarray(
            self.estimate_f0(
                signal, sample_rate, hop_length=hop_length, f0_min=f0_min, f0_max=f0_max
            ),
            dtype=np.float64,
        )
        if estimate.ndim != 1:
            raise ValueError(
                f"estimate_f0 returned an array of shape {estimate.shape}; it must return "
                f"one value per frame, shaped (frames,)"
            )
        if len(estimate) >= frame_count:
            estimate = estimate[:frame_count]
        else:
            estimate = np.pad(estimate, (0, frame_count - len(estimate)))
        return _confined_to_range(estimate, f0_min, f0_max)

    def estimate_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int,
        f0_min: float,
        f0_max: float,
    ) -> np.ndarray:
        """The backend's own pitch estimate; :meth:`extract_f0` calls it.

        It is handed checked arguments: ``samples`` is contiguous float32, 1-D and never
        empty (a view of the caller's array: don't modify it). It returns Hz, ``0``
        where unvoiced, on the contract's grid: value ``i`` centred on sample
        ``i * hop_length``, ideally ``frame_count(len(samples), hop_length)`` values.
        Fewer (even none, for input too short to analyse) leave the last frames
        unvoiced; more are dropped. It searches for pitch within ``[f0_min, f0_max]``;
        NaN and values outside the range need no cleaning up, ``extract_f0`` makes
        them unvoiced. Any dtype will do.
        """
        raise NotImplementedError

    @staticmethod
    def frame_count(num_samples: int, hop_length: int) -> int:
        """How many values ``extract_f0`` returns for ``num_samples`` samples."""
        return num_samples // hop_length + 1


#: Pitch estimates this close outside the requested range (a quarter of a semitone)
#: are clamped onto it: WORLD's stonemask, for one, nudges a value sitting on the edge
#: of the search range a hair beyond it. Anything further out is not a pitch the
#: caller asked for, and the frame is reported unvoiced.
_F0_EDGE_TOLERANCE = 2.0 ** (0.5 / 12.0)


def _checked_mono_samples(
    samples: np.ndarray, sample_rate: int, hop_length: int, f0_min: float, f0_max: float
) -> np.ndarray:
    """The samples as contiguous float32 mono, after checking the call's arguments."""
    array = np.asarray(samples)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise UrvcError(
            f"Pitch extraction needs mono samples shaped (samples,); got shape {array.shape}. "
            "Mix the audio down to one channel first."
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise UrvcError(
            f"Pitch extraction needs float samples in [-1, 1]; got {array.dtype}. Load the "
            "audio with urvc_core.audio.load_audio, or divide integer PCM by its full scale."
        )
    if sample_rate <= 0:
        raise UrvcError(f"Sample rate must be positive; got {sample_rate}.")
    if hop_length <= 0:
        raise UrvcError(f"Hop length must be a positive number of samples; got {hop_length}.")
    if not 0 < f0_min < f0_max:
        raise UrvcError(
            f"Pitch range must satisfy 0 < f0_min < f0_max; got f0_min={f0_min}, f0_max={f0_max}."
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def _confined_to_range(f0: np.ndarray, f0_min: float, f0_max: float) -> np.ndarray:
    """Float32 Hz with non-finite and out-of-range values made unvoiced (see _F0_EDGE_TOLERANCE)."""
    f0 = np.nan_to_num(np.asarray(f0, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    voiced = f0 > 0
    near_range = (f0 >= f0_min / _F0_EDGE_TOLERANCE) & (f0 <= f0_max * _F0_EDGE_TOLERANCE)
    confined = np.where(voiced & near_range, np.clip(f0, f0_min, f0_max), 0.0)
    return confined.astype(np.float32)


class Embedder(Backend):
    """Turns speech into content features (HuBERT, ContentVec and relatives).

    ``embed`` takes mono float32 samples at 16 kHz and returns float32 features shaped
    ``(frames, dim)`` with one frame per 320 samples (20 ms): ``len // 320`` frames, give
    or take one. ``layer`` picks the transformer layer whose output is returned (RVC v1
    uses 9, v2 uses 12); ``project=True`` applies the model's final projection (v1's
    256-dim features).
    """

    kind = BackendKind.EMBEDDER
    work_methods: ClassVar[tuple[str, ...]] = ("embed",)
    sample_rate: ClassVar[int] = 16000

    def embed(self, samples: np.ndarray, *, layer: int = 12, project: bool = False) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class TTSVoice:
    """One voice of a TTS engine: the name ``synthesize`` takes, and what a person picks
    it by (``urvc tts voices`` shows them)."""

    name: str
    #: BCP 47 language tag where known (``en-US``), else "".
    locale: str = ""
    #: ``Female``, ``Male`` or "" where the engine doesn't say.
    gender: str = ""
    description: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "locale": self.locale,
            "gender": self.gender,
            "description": self.description,
        }


class TTSEngine(Backend):
    """Speaks text.

    ``synthesize`` returns mono :class:`Audio` at the engine's own sample rate, speaking
    at ``speed`` times the voice's own pace. ``voices`` lists the voice names the engine
    accepts; ``voice=None`` picks the engine's default. Empty text and a voice the engine
    doesn't have are :class:`~urvc_core.errors.UrvcError`\\ s.

    :meth:`voice_details` (locale, gender) and :meth:`check_voice` (a did-you-mean for a
    misspelt voice) have defaults built on ``voices``; an engine overrides them where it
    knows more.
    """

    kind = BackendKind.TTS_ENGINE
    work_methods: ClassVar[tuple[str, ...]] = (
        "voices",
        "voice_details",
        "check_voice",
        "synthesize",
    )

    def voices(self) -> list[str]:
        raise NotImplementedError

    def voice_details(self) -> list[TTSVoice]:
        """Every voice with what the engine tells of it."""
        return [TTSVoice(name) for name in self.voices()]

    def check_voice(self, voice: str) -> str:
        """The engine's own spelling of ``voice`` (matched regardless of case), or an
        :class:`~urvc_core.errors.UrvcError` naming the closest voices."""
        return match_voice_name(voice, self.voices(), self.name)

    def synthesize(self, text: str, *, voice: str | None = None, speed: float = 1.0) -> Audio:
        raise NotImplementedError


def check_speech_request(
    text: str, speed: float, speed_range: tuple[float, float], engine: str
) -> None:
    """Raise an UrvcError for empty text, or a speed outside what the engine can do
    (``speed_range``, times the voice's own pace): the checks every engine's
    ``synthesize`` starts with."""
    if not text.strip():
        raise UrvcError("There is no text to speak: the text is empty.")
    low, high = speed_range
    if not low <= speed <= high:
        raise UrvcError(
            f"TTS engine '{engine}' speaks at speeds from {low:g} to {high:g} times the "
            f"voice's pace; got {speed:g}."
        )


def match_voice_name(voice: str, names: Sequence[str], engine: str) -> str:
    """``voice`` as spelt in ``names`` (regardless of case), or an UrvcError with the
    closest names: for :meth:`TTSEngine.check_voice` and engines that override it."""
    import difflib

    by_folded = {name.casefold(): name for name in names}
    found = by_folded.get(voice.strip().casefold())
    if found is not None:
        return found
    close = difflib.get_close_matches(voice.strip().casefold(), list(by_folded), n=1)
    hint = f" (did you mean '{by_folded[close[0]]}'?)" if close else ""
    raise UrvcError(
        f"TTS engine '{engine}' has no voice '{voice}'{hint}; `urvc tts voices --engine "
        f"{engine}` lists its voices."
    )


class Effect(Backend):
    """Processes audio: a reverb, a compressor, a pitch shift...

    ``apply`` returns :class:`Audio` at the same sample rate with the same channel
    count. The output may be longer than the input where the effect rings on (a
    reverb's tail) and never shorter. The effect's parameters are its settings.
    """

    kind = BackendKind.EFFECT
    work_methods: ClassVar[tuple[str, ...]] = ("apply",)

    def apply(self, audio: Audio) -> Audio:
        raise NotImplementedError


class FusionMethod(Backend):
    """Blends several voice models into one.

    ``fuse`` takes the models' weight tensors (name to torch tensor, all with the same
    names and shapes) and weights, one per model unless the method says otherwise
    (``add-difference`` takes three models and one multiplier), and returns the blended
    weights with the same names, shapes and dtypes. Mismatched models are an
    :class:`~urvc_core.errors.UrvcError` that names the first differing tensor.
    ``default_weights`` gives the weights used where none are given.
    """

    kind = BackendKind.FUSION_METHOD
    work_methods: ClassVar[tuple[str, ...]] = ("fuse",)

    def fuse(self, models: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
        raise NotImplementedError

    def default_weights(self, model_count: int) -> list[float]:
        """The weights used where none are given: one each, by default (equal shares)."""
        return [1.0] * model_count


BASE_CLASSES: dict[BackendKind, type[Backend]] = {
    BackendKind.SEPARATOR: Separator,
    BackendKind.F0_EXTRACTOR: F0Extractor,
    BackendKind.EMBEDDER: Embedder,
    BackendKind.TTS_ENGINE: TTSEngine,
    BackendKind.EFFECT: Effect,
    BackendKind.FUSION_METHOD: FusionMethod,
}


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: its kind, name, class and the plugin that provides it."""

    kind: BackendKind
    name: str
    backend_class: type[Backend]
    plugin: str

    def as_dict(self) -> dict[str, Any]:
        missing = self.backend_class.missing_modules()
        return {
            "kind": self.kind.value,
            "name": self.name,
            "plugin": self.plugin,
            "description": self.backend_class.description,
            "available": not missing,
            "missing_modules": missing,
            "settings": [s.as_dict() for s in self.backend_class.settings],
        }
