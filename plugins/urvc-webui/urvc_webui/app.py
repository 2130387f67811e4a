"""The web UI: a ``gr.Blocks`` app over urvc's library API, and the server that runs it.

Tabs: Generate (a one-click cover), Models (the voice library), Audio (the step cache),
Settings (config.toml's defaults and the UI's theme). Every action calls a public
function of :mod:`urvc_core`; a :class:`~urvc_core.errors.UrvcError` becomes one line in
the tab's status, never a traceback, and the server keeps serving.

What the page shows is read again from disk on every load (the voice library, the
cache, config.toml), so a refresh or a restart shows the same state.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from urvc_core.errors import UrvcError
from urvc_webui.jobs import CoverJob, CoverRequest, job_slots
from urvc_webui.settings import (
    CONFIG_FIELDS,
    THEMES,
    load_ui_settings,
    read_config_fields,
    save_config_fields,
    save_ui_settings,
)

__all__ = ["build_app", "serve"]

#: A tab's reader of what it shows, run on every page load, and the components it fills.
#: (One component is given bare: gradio reads a tuple returned for it as one value.)
_Loader = tuple[Callable[[], Any], Any]

#: How often a running job's status is refreshed in the page.
_POLL_SECONDS = 0.5
#: Gradio's upload cache: files older than an hour go, checked every hour.
_DELETE_CACHE = (3600, 3600)


# -- jobs of the sessions ----------------------------------------------------------------


class _SessionJobs:
    """The running cover of each browser session, so its Cancel finds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, CoverJob] = {}

    def add(self, session: str, job: CoverJob) -> None:
        with self._lock:
            self._jobs[session] = job

    def remove(self, session: str, job: CoverJob) -> None:
        with self._lock:
            if self._jobs.get(session) is job:
                del self._jobs[session]

    def get(self, session: str) -> CoverJob | None:
        with self._lock:
            return self._jobs.get(session)

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()


_JOBS = _SessionJobs()
atexit.register(_JOBS.cancel_all)


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "default")


def _error_line(message: str) -> str:
    return f"**Error:** {message}"


# -- generate ---------------------------------------------------------------------------


def _voice_names() -> list[str]:
    from urvc_core.voices import list_voice_models

    try:
        return [entry.name for entry in list_voice_models()]
    except UrvcError:
        return []


def _check_song(upload: str | None, typed: str) -> str:
    """The song to cover: the upload, else the typed path or URL; an upload is checked
    to be audio here, so a wrong file is told at once."""
    typed = (typed or "").strip()
    if upload:
        from urvc_core.audio import audio_info

        try:
            info = audio_info(Path(upload))
        except UrvcError:
            # The kernel's message names gradio's temporary copy; the user knows the name.
            raise UrvcError(
                f"The uploaded file {Path(upload).name} isn't audio urvc can read; "
                f"upload a song (wav, flac, mp3, ogg, m4a...)."
            ) from None
        if info.frames == 0:
            raise UrvcError(f"The uploaded file {Path(upload).name} holds no audio samples.")
        return str(upload)
    if typed:
        return typed
    raise UrvcError("Give a song: upload one, or type its path or URL.")


def _check_voice(voice: str | None) -> str:
    """A library name is looked up here (quick); paths and URLs are checked by the job."""
    voice = (voice or "").strip()
    if not voice:
        raise UrvcError("Choose a voice model, or type the path of a .pth file.")
    if "://" in voice or voice.lower().endswith((".pth", ".zip")) or Path(voice).exists():
        return voice
    from urvc_core.voices import get_voice_model

    get_voice_model(voice)  # an unknown name: the error lists the close ones
    return voice


def _cover_settings(
    embedder: str,
    f0_method: str,
    separation: str,
    pitch: float | None,
    effects_preset: str,
    keep_intermediates: bool,
) -> dict[str, Any]:
    settings: dict[str, Any] = {"separation": separation or "auto"}
    if (embedder or "").strip() and embedder.strip() != "auto":
        settings["embedder"] = embedder.strip()
    if f0_method and f0_method != "auto":
        settings["f0_method"] = f0_method
    if pitch:
        settings["pitch"] = float(pitch)
    if effects_preset and effects_preset != "none":
        settings["effects_preset"] = effects_preset
    if keep_intermediates:
        settings["keep_intermediates"] = True
    return settings


def _generate(
    upload: str | None,
    typed_song: str,
    voice: str,
    embedder: str,
    f0_method: str,
    separation: str,
    pitch: float | None,
    effects_preset: str,
    show_intermediates: bool,
    request: gr.Request,
) -> Iterator[tuple[Any, str, Any]]:
    hidden = gr.update(value=None, visible=False)
    try:
        song = _check_song(upload, typed_song)
        model = _check_voice(voice)
        settings = _cover_settings(
            embedder, f0_method, separation, pitch, effects_preset, show_intermediates
        )
    except UrvcError as exc:
        yield None, _error_line(str(exc)), hidden
        return
    session = _session(request)
    running = _JOBS.get(session)
    if running is not None and running.running:
        yield None, _error_line("A cover is already running here; cancel it first."), hidden
        return
    job = CoverJob(CoverRequest(song, model, settings))
    job.start()
    _JOBS.add(session, job)
    started = f"Running: starting (worker process {job.pid})."
    yield None, started, hidden
    try:
        while True:
            for message in job.messages(_POLL_SECONDS):
                if message.kind == "step":
                    yield None, f"Running: {message.text} (worker process {job.pid}).", hidden
                elif message.kind == "done":
                    facts = message.facts
                    files = list(facts.get("intermediates", {}).values())
                    shown = (
                        gr.update(value=files, visible=True)
                        if show_intermediates and files
                        else hidden
                    )
                    status = (
                        f"Done in {facts['seconds']:.1f} s: {facts['duration']:.2f} s of "
                        f"audio, saved to `{facts['output']}`."
                    )
                    yield facts["output"], status, shown
                    return
                elif message.kind == "cancelled":
                    yield None, f"Cancelled: worker process {job.pid} was stopped.", hidden
                    return
                else:
                    yield None, _error_line(message.text), hidden
                    return
    finally:
        # Also when the page goes away mid-job: the worker must not outlive its page.
        if job.running:
            job.cancel()
        _JOBS.remove(session, job)


def _cancel(request: gr.Request) -> str:
    job = _JOBS.get(_session(request))
    if job is None or not job.cancel():
        return "Nothing is running."
    return f"Cancelled: worker process {job.pid} was stopped."


def _cancel_when_the_page_closes(request: gr.Request) -> None:
    job = _JOBS.get(_session(request))
    if job is not None:
        job.cancel()


def _separation_presets() -> list[str]:
    from urvc_core.separation import list_presets

    return ["auto", *(preset.name for preset, _ in list_presets())]


def _effect_presets() -> list[str]:
    from urvc_core.effects import list_effect_presets

    return ["none", *(preset.name for preset, _ in list_effect_presets())]


def _f0_methods() -> list[str]:
    from urvc_core.registry import backend_registry

    return ["auto", *backend_registry().names("f0")]


def _generate_tab() -> _Loader:
    with gr.Tab("Generate", id="generate"):
        with gr.Row():
            with gr.Column():
                gr.Markdown("### Song")
                upload = gr.File(label="Upload a song", type="filepath", elem_id="song-upload")
                typed_song = gr.Textbox(
                    label="…or its path or URL", elem_id="song-path", placeholder="/music/song.flac"
                )
                voice = gr.Dropdown(
                    label="Voice: a library name, or the path of a .pth",
                    choices=_voice_names(),
                    allow_custom_value=True,
                    elem_id="voice",
                )
            with gr.Column():
                with gr.Accordion("Vocal extraction", open=True):
                    separation = gr.Dropdown(
                        label="Separation preset",
                        choices=_separation_presets(),
                        value="auto",
                        elem_id="separation",
                    )
                with gr.Accordion("Conversion", open=True):
                    embedder = gr.Textbox(
                        label="Embedder (a name or a path; auto: config.toml's)",
                        value="auto",
                        elem_id="embedder",
                    )
                    f0_method = gr.Dropdown(
                        label="Pitch extractor",
                        choices=_f0_methods(),
                        value="auto",
                        elem_id="f0-method",
                    )
                with gr.Accordion("Pitch shift", open=True):
                    pitch = gr.Number(
                        label="Voice pitch shift (semitones)", value=0, elem_id="pitch"
                    )
                with gr.Accordion("Effects", open=False):
                    effects_preset = gr.Dropdown(
                        label="Effects preset",
                        choices=_effect_presets(),
                        value="none",
                        elem_id="effects-preset",
                    )
                show_intermediates = gr.Checkbox(
                    label="Show intermediate tracks", value=False, elem_id="show-intermediates"
                )
        with gr.Row():
            run = gr.Button("Generate cover", variant="primary", elem_id="generate")
            cancel = gr.Button("Cancel", variant="stop", elem_id="cancel")
        status = gr.Markdown("Ready.", elem_id="cover-status")
        cover = gr.Audio(label="Cover", type="filepath", interactive=False, elem_id="cover")
        intermediates = gr.Files(
            label="Intermediate tracks", visible=False, elem_id="intermediates"
        )
        run.click(
            _generate,
            inputs=[
                upload,
                typed_song,
                voice,
                embedder,
                f0_method,
                separation,
                pitch,
                effects_preset,
                show_intermediates,
            ],
            outputs=[cover, status, intermediates],
            concurrency_id="cover",
            api_name="cover",
        )
        # Its own concurrency: a Cancel never waits behind the job it ends.
        cancel.click(_cancel, outputs=[status], concurrency_limit=None, api_name="cancel")

    def on_load() -> tuple[Any, ...]:
        from urvc_core.home import load_config

        convert: dict[str, Any] = {}
        with contextlib.suppress(UrvcError):  # a broken config.toml: the Settings tab says so
            convert = dict(load_config().convert)
        return (
            gr.update(choices=_voice_names()),
            gr.update(value=str(convert.get("embedder", "auto"))),
            gr.update(value=str(convert.get("f0_method", "auto"))),
            gr.update(value=float(convert.get("pitch", 0.0))),
        )

    return on_load, [voice, embedder, f0_method, pitch]


# -- models -----------------------------------------------------------------------------

_VOICE_COLUMNS = ["name", "version", "sample rate", "index vectors", "source"]


def _voice_rows() -> list[list[Any]]:
    from urvc_core.voices import list_voice_models

    rows = []
    for entry in list_voice_models():
        info = entry.info
        rows.append(
            [
                entry.name,
                info.version,
                info.sample_rate,
                entry.index.size if entry.index is not None else "",
                entry.source or "",
            ]
        )
    return rows


_CATALOGUE_COLUMNS = ["name", "description", "tags", "added", "url"]
#: The most catalogue rows the page shows at once: a search narrows them.
_CATALOGUE_SHOWN = 200


def _catalogue_rows(query: str) -> list[list[Any]]:
    from urvc_core.voice_catalogue import search_catalogue

    return [
        [entry.name, entry.description, ", ".join(entry.tags), entry.added, entry.url]
        for entry in search_catalogue(query)
    ]


def _voice_info(name: str | None) -> str:
    """A library voice's details, as ``urvc models info`` gives them."""
    from urvc_core.voices import get_voice_model

    if not name:
        return ""
    try:
        entry = get_voice_model(name)
    except UrvcError as exc:
        return _error_line(str(exc))
    info = entry.info
    if entry.index_path is None:
        index = "none"
    elif entry.index is not None:
        index = f"{entry.index.size} vectors of {entry.index.dim} ({entry.index_path.name})"
    else:
        index = entry.index_path.name
    facts = [
        ("Version", info.version),
        ("Sample rate", f"{info.sample_rate} Hz"),
        ("Pitch guidance", "yes" if info.pitch_guidance else "no"),
        ("Embedder", f"{info.embedder} ({info.embedder_dim}-dim)"),
        ("Epochs", "unknown" if info.epochs is None else info.epochs),
        ("Steps", "unknown" if info.steps is None else info.steps),
        ("Vocoder", info.vocoder),
        ("Index", index),
        ("Source", entry.source or "unknown"),
    ]
    lines = [f"**{name}**", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in facts]
    return "\n".join(lines)


def _models_tab() -> _Loader:
    with gr.Tab("Models", id="models"):
        table = gr.Dataframe(
            headers=_VOICE_COLUMNS, value=[], interactive=False, elem_id="voices", wrap=True
        )
        with gr.Row():
            uploads = gr.File(
                label="Import: .pth, .index or .zip files",
                file_count="multiple",
                type="filepath",
                elem_id="voice-upload",
            )
            with gr.Column():
                import_button = gr.Button("Import", elem_id="import-voices")
                chosen = gr.Dropdown(label="Voice", choices=[], elem_id="voice-to-delete")
                delete_button = gr.Button("Delete", variant="stop", elem_id="delete-voice")
        status = gr.Markdown("", elem_id="models-status")
        info = gr.Markdown("", elem_id="voice-info")
        with gr.Accordion("Download", open=True):
            urls = gr.Textbox(
                label="URLs of .pth or .zip voice models, one a line",
                lines=3,
                elem_id="download-urls",
            )
            download_button = gr.Button("Download", elem_id="download-voices")
            download_status = gr.Markdown("", elem_id="download-status")
        with gr.Accordion("Catalogue", open=True):
            with gr.Row():
                query = gr.Textbox(
                    label="Search the public voice catalogue", elem_id="catalogue-search"
                )
                search_button = gr.Button("Search", elem_id="search-catalogue")
            catalogue_table = gr.Dataframe(
                headers=_CATALOGUE_COLUMNS,
                value=[],
                interactive=False,
                elem_id="catalogue",
                wrap=True,
                max_height=400,
            )
            with gr.Row():
                picked = gr.Dropdown(label="Catalogue model", choices=[], elem_id="catalogue-pick")
                send_button = gr.Button("Add its URL to Download", elem_id="send-to-download")
            catalogue_status = gr.Markdown("", elem_id="catalogue-status")

    def refreshed(message: str) -> tuple[Any, ...]:
        try:
            rows = _voice_rows()
        except UrvcError as exc:
            return [], gr.update(choices=[]), _error_line(str(exc))
        names = [row[0] for row in rows]
        return rows, gr.update(choices=names, value=None), message

    def import_voices(files: list[str] | None) -> tuple[Any, ...]:
        from urvc_core.voices import import_voice_files

        if not files:
            return refreshed(_error_line("Choose the files to import first."))
        lines = []
        for result in import_voice_files([Path(f) for f in files]):
            if result.ok:
                lines.append(f"Imported {', '.join(v.name for v in result.entries)}.")
            else:
                lines.append(_error_line(f"{Path(result.source).name}: {result.error}"))
        return refreshed("  \n".join(lines))

    def delete_voice(name: str | None) -> tuple[Any, ...]:
        from urvc_core.voices import delete_voice_model

        if not name:
            return refreshed(_error_line("Choose the voice to delete."))
        try:
            delete_voice_model(name)
        except UrvcError as exc:
            return refreshed(_error_line(str(exc)))
        return refreshed(f"Deleted {name}.")

    def download(text: str) -> tuple[Any, ...]:
        from urvc_core.voices import download_voices

        wanted = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if not wanted:
            return (*refreshed(""), _error_line("Give one URL a line first."))
        lines = []
        for result in download_voices(wanted, progress=False):
            if result.ok:
                names = ", ".join(entry.name for entry in result.entries)
                lines.append(f"{result.source}: imported {names}.")
            else:
                lines.append(_error_line(f"{result.source}: {result.error}"))
        return (*refreshed(""), "  \n".join(lines))

    def search(text: str) -> tuple[Any, ...]:
        try:
            rows = _catalogue_rows(text or "")
        except UrvcError as exc:
            return [], gr.update(choices=[], value=None), _error_line(str(exc))
        shown = rows[:_CATALOGUE_SHOWN]
        more = f" (the first {len(shown)} shown)" if len(rows) > len(shown) else ""
        names = list(dict.fromkeys(row[0] for row in shown))
        return (
            shown,
            gr.update(choices=names, value=None),
            f"{len(rows)} model{'' if len(rows) == 1 else 's'} found{more}.",
        )

    def send(name: str | None, text: str) -> tuple[str, str]:
        from urvc_core.voice_catalogue import find_catalogue_entry

        if not name:
            return text, _error_line("Choose a catalogue model first.")
        try:
            entry = find_catalogue_entry(name)
        except UrvcError as exc:
            return text, _error_line(str(exc))
        kept = [line for line in (text or "").splitlines() if line.strip()]
        if entry.url not in kept:
            kept.append(entry.url)
        return "\n".join(kept), f"Added {entry.name}'s URL to Download."

    import_button.click(import_voices, inputs=[uploads], outputs=[table, chosen, status])
    delete_button.click(delete_voice, inputs=[chosen], outputs=[table, chosen, status])
    chosen.change(_voice_info, inputs=[chosen], outputs=[info])
    download_button.click(download, inputs=[urls], outputs=[table, chosen, status, download_status])
    for trigger in (query.submit, search_button.click):
        trigger(search, inputs=[query], outputs=[catalogue_table, picked, catalogue_status])
    send_button.click(send, inputs=[picked, urls], outputs=[urls, catalogue_status])

    def on_load() -> tuple[Any, ...]:
        return (*refreshed(""), *search(""))

    return on_load, [table, chosen, status, catalogue_table, picked, catalogue_status]


# -- audio ------------------------------------------------------------------------------

_CACHE_COLUMNS = ["key", "step", "backend", "created", "size (kB)", "files"]


def _cache_rows() -> list[list[Any]]:
    from urvc_core.cache import StepCache

    rows = []
    for entry in StepCache().entries():
        files = ", ".join(str(output.get("file", name)) for name, output in entry.outputs.items())
        rows.append(
            [
                entry.key[:12],
                entry.step,
                entry.backend,
                entry.created,
                entry.size_bytes() // 1000,
                files,
            ]
        )
    return rows


def _audio_tab() -> _Loader:
    with gr.Tab("Audio", id="audio"):
        gr.Markdown("The step cache: every separation, conversion, effects chain and mix kept.")
        table = gr.Dataframe(
            headers=_CACHE_COLUMNS, value=[], interactive=False, elem_id="cache", wrap=True
        )
        refresh = gr.Button("Refresh", elem_id="refresh-cache")
    refresh.click(_cache_rows, outputs=[table])

    return _cache_rows, table


# -- settings ---------------------------------------------------------------------------


def _settings_tab() -> _Loader:
    with gr.Tab("Settings", id="settings"):
        gr.Markdown(
            "Defaults kept in config.toml (what `urvc config set` writes): every cover and "
            "conversion uses them, here and on the command line."
        )
        fields = []
        for config_field in CONFIG_FIELDS:
            fields.append(config_field.component(_f0_methods))
        theme = gr.Dropdown(
            label="Theme (applies when the server starts again)",
            choices=list(THEMES),
            value="default",
            elem_id="setting-theme",
        )
        save = gr.Button("Save settings", variant="primary", elem_id="save-settings")
        status = gr.Markdown("", elem_id="settings-status")

    def save_settings(*values: Any) -> str:
        *config_values, theme_name = values
        try:
            changed = save_config_fields(config_values)
            save_ui_settings({"theme": theme_name})
        except UrvcError as exc:
            return _error_line(str(exc))
        saved = ", ".join(changed) if changed else "nothing changed"
        return f"Saved ({saved})."

    save.click(save_settings, inputs=[*fields, theme], outputs=[status])

    def on_load() -> tuple[Any, ...]:
        try:
            values = read_config_fields()
        except UrvcError as exc:
            return (*(gr.update() for _ in fields), gr.update(), _error_line(str(exc)))
        ui = load_ui_settings()
        return (*values, ui.get("theme", "default"), "")

    return on_load, [*fields, theme, status]


# -- the app ----------------------------------------------------------------------------


def build_app() -> gr.Blocks:
    """The web UI as a ``gr.Blocks``: its tabs, and what each page load reads."""
    with gr.Blocks(title="urvc", delete_cache=_DELETE_CACHE) as app:
        gr.Markdown("# urvc")
        with gr.Tabs(elem_id="tabs"):
            loaders = [_generate_tab(), _models_tab(), _audio_tab(), _settings_tab()]
        for loader, outputs in loaders:
            app.load(loader, outputs=outputs)
        app.unload(_cancel_when_the_page_closes)
    app.queue(default_concurrency_limit=job_slots())
    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    max_file_size: str | int | None = "500mb",
    quiet: bool = False,
) -> None:
    """Serve :func:`build_app` on ``host``:``port`` until interrupted.

    Uploads over ``max_file_size`` are refused in the page. Covers are written to the
    urvc outputs folder (served to the page from there); no public share link is made.
    """
    from urvc_core.home import urvc_home
    from urvc_webui.settings import theme_for

    home = urvc_home()
    app = build_app()
    try:
        app.launch(
            server_name=host,
            server_port=port,
            share=False,
            max_file_size=max_file_size,
            allowed_paths=[str(home.outputs), str(home.cache)],
            theme=theme_for(load_ui_settings().get("theme", "default")),
            quiet=quiet,
            footer_links=["gradio"],
        )
    finally:
        _JOBS.cancel_all()
