"""The `tanya` command: parse, call one app method, render. Heavy imports wait until a command runs."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from tanya import __version__
from tanya.errors import InputError, TanyaError

if TYPE_CHECKING:
    from tanya.app import Tanya
    from tanya.indexing import UpdateSummary

log = logging.getLogger("tanya")


class _Context:
    """What the global options decide, shared by every command."""

    def __init__(self, config: Path | None, index: Path | None) -> None:
        self.config_path = config
        self.index_dir = index
        self._app: Tanya | None = None

    def app(self) -> Tanya:
        if self._app is None:
            from tanya.app import Tanya
            from tanya.config import default_config_path, load_config

            settings = load_config(self.config_path or default_config_path())
            index_dir = self.index_dir.resolve() if self.index_dir else None
            self._app = Tanya(settings, index_dir)
        return self._app


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    help="config.yaml to use (default: $TANYA_CONFIG, else ./config.yaml, else built-in defaults).",
)
@click.option("--index", "index", type=click.Path(path_type=Path), help="Index folder (overrides index_dir).")
@click.option("-v", "--verbose", is_flag=True, help="Log what tanya is doing.")
@click.version_option(__version__, prog_name="tanya")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, index: Path | None, verbose: bool) -> None:
    """tanya: ask questions of Indonesian news articles; get the passages that answer them, quoted."""
    _setup_logging(verbose)
    ctx.obj = _Context(config, index)


# --- asking --------------------------------------------------------------------------------------


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--batch",
    type=str,
    metavar="FILE",
    help='JSONL of {"id", "question"} (or - for stdin); prints one JSON object per line.',
)
@click.pass_obj
def ask(obj: _Context, question: str | None, as_json: bool, batch: str | None) -> None:
    """Answer QUESTION by quoting the articles (builds the index first if there is none)."""
    if batch is not None:
        if question:
            raise InputError("give either a QUESTION or --batch FILE, not both")
        _ask_batch(obj, batch)
        return
    if question is None or not question.strip():
        raise InputError('the question is empty; usage: tanya ask "QUESTION"')
    app = obj.app()
    _ensure_index(app)
    answer = app.ask(question)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        from tanya.render import answer_to_text

        click.echo(answer_to_text(answer))


def _ask_batch(obj: _Context, batch: str) -> None:
    lines = _read_batch(batch)
    app = obj.app()
    _ensure_index(app)
    for number, line in lines:
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{batch}:{number}: malformed JSON ({exc.args[0]})") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise InputError(f'{batch}:{number}: expected an object with a string "question"')
        try:
            result = app.ask(item["question"]).to_dict()
        except InputError as exc:
            result = {"question": item["question"], "answered": False, "quotes": [], "error": str(exc)}
        click.echo(json.dumps({"id": item.get("id"), **result}, ensure_ascii=False))


def _read_batch(batch: str) -> list[tuple[int, str]]:
    """Non-blank lines of the batch file, numbered from 1; read fully first so errors come early."""
    try:
        handle: TextIO = sys.stdin if batch == "-" else open(batch, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"{batch}: cannot read ({exc.strerror})") from None
    with handle:
        try:
            return [(n, line) for n, line in enumerate(handle, 1) if line.strip()]
        except UnicodeDecodeError:
            raise InputError(f"{batch}: not UTF-8 text") from None


@cli.command()
@click.pass_obj
def chat(obj: _Context) -> None:
    """Ask questions one after another at a prompt (empty line or Ctrl-D to leave)."""
    from tanya.render import answer_to_text

    app = obj.app()
    _ensure_index(app)
    click.echo("tanya — tanyakan apa saja tentang artikel yang diindeks. Baris kosong untuk keluar.")
    while True:
        try:
            question = input("\n? ")
        except EOFError:
            break
        if not question.strip():
            break
        try:
            click.echo(answer_to_text(app.ask(question)))
        except InputError as exc:
            click.echo(f"tanya: {exc}", err=True)


@cli.command()
@click.pass_obj
def bot(obj: _Context) -> None:
    """Run the Telegram bot (token from $TELEGRAM_BOT_TOKEN; polling, or a webhook per config.yaml)."""
    from tanya.bot import run_bot

    run_bot(obj.app())


@cli.command("eval", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def eval_command(args: tuple[str, ...]) -> None:
    """Measure answer quality beside keyword and dense baselines (bench/quality.py; --help for options)."""
    import runpy

    script = Path(__file__).resolve().parents[2] / "bench" / "quality.py"
    if not script.is_file():
        raise InputError(f"{script}: not found; tanya eval runs from a clone of the repository")
    sys.path.insert(0, str(script.parent))
    sys.argv = [str(script), *args]
    runpy.run_path(str(script), run_name="__main__")


# --- the index -----------------------------------------------------------------------------------


@cli.group("index")
def index_group() -> None:
    """Build, update and inspect the index."""


@index_group.command("build")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def index_build(obj: _Context, sources: tuple[Path, ...], as_json: bool) -> None:
    """Build a new index from SOURCES (folders or files; default: config.yaml's sources)."""
    app = obj.app()
    with _progress("indexing") as progress:
        summary = app.build(list(sources) or None, progress)
    _print_summary(summary, as_json)


@index_group.command("update")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--watch", is_flag=True, help="Keep watching the sources and update after changes.")
@click.pass_obj
def index_update(obj: _Context, sources: tuple[Path, ...], as_json: bool, watch: bool) -> None:
    """Add new, re-embed changed and drop removed articles (default: the sources it was built from)."""
    app = obj.app()
    chosen = [p.resolve() for p in sources] or None
    with _progress("updating") as progress:
        summary = app.update(chosen, progress)
    _print_summary(summary, as_json)
    if watch:
        from tanya.watch import watch_sources

        watched = chosen or [Path(s) for s in app.index.manifest.sources]
        click.echo(f"watching {', '.join(map(str, watched))} (Ctrl-C to stop)", err=True)
        def update_and_report() -> None:
            summary = app.update(chosen)
            if summary.added or summary.changed or summary.removed or summary.skipped:
                _print_summary(summary, as_json)

        watch_sources(watched, update_and_report)


@index_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def index_stats(obj: _Context, as_json: bool) -> None:
    """Counts, model and sizes on disk."""
    stats = obj.app().stats()
    if as_json:
        click.echo(json.dumps(stats, ensure_ascii=False))
        return
    for key, value in stats.items():
        if key == "files":
            continue
        if key == "bytes_on_disk":
            value = f"{int(str(value)) / 1e6:.1f} MB"
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        click.echo(f"{key:18} {value}")


@index_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def index_check(obj: _Context, as_json: bool) -> None:
    """Verify that vectors, chunks and keyword rows agree; says how to repair. Exit 1 when they do not."""
    from tanya.config import default_config_path, load_config
    from tanya.store.check import check_index

    directory = (
        obj.index_dir.resolve()
        if obj.index_dir
        else load_config(obj.config_path or default_config_path()).index_path
    )
    report = check_index(directory)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for key, value in report.facts.items():
            click.echo(f"{key:18} {value}")
        for note in report.notes:
            click.echo(f"note: {note}")
        for problem in report.problems:
            click.echo(f"problem: {problem}")
        click.echo("ok" if report.ok else f"{len(report.problems)} problem(s) found")
    if not report.ok:
        raise click.exceptions.Exit(1)


# --- plumbing ------------------------------------------------------------------------------------


def _ensure_index(app: Tanya) -> None:
    _ = app.ranker  # a bad retrieval.ranker_file is said before anything is built or loaded
    if not app.has_index():
        click.echo(f"no index at {app.index_dir} yet; building it from the configured sources…", err=True)
        with _progress("indexing") as progress:
            summary = app.ensure_index(progress)
        if summary is not None:
            click.echo(summary.to_text(), err=True)


def _print_summary(summary: UpdateSummary, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
    else:
        click.echo(summary.to_text())


class _progress:
    """A progress bar with ETA on a terminal, plain log lines otherwise."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._bar: Any = None
        self._started = time.monotonic()
        self._last_log = 0.0

    def __enter__(self) -> Callable[[int, int], None]:
        return self.update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, done: int, total: int) -> None:
        if sys.stderr.isatty():
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=self.what, unit="article", file=sys.stderr)
            self._bar.update(done - self._bar.n)
            return
        now = time.monotonic()
        if done < total and now - self._last_log < 5:
            return
        self._last_log = now
        elapsed = now - self._started
        eta = elapsed / done * (total - done) if done else 0.0
        log.info(
            "%s: %d/%d articles, %.0f s elapsed, about %.0f s left", self.what, done, total, elapsed, eta
        )


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tanya: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("tanya").setLevel(logging.INFO)
    # httpx logs request URLs, which hold the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not verbose:
        logging.getLogger("tanya.embedding").setLevel(logging.WARNING)
        logging.getLogger("tanya.store").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line and exit code 2, never a traceback."""
    try:
        # Without standalone mode click returns an Exit's code instead of raising it.
        code = cli.main(args=argv, prog_name="tanya", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("tanya: stopped", err=True)
        sys.exit(130)
    except TanyaError as exc:
        click.echo(f"tanya: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("tanya: stopped", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
