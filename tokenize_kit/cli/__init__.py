"""The ``tokenize-kit`` command line.

Each command group lives in its own module (``keys``, ``generate``, ``pipeline`` ...) and is attached
here.  Modules are imported lazily by :class:`LazyGroup` so ``tokenize-kit --help`` starts quickly and
a heavy dependency (pyarrow, pandas) is only loaded by the commands that need it.

One exit-status table for every command, applied here (:meth:`LazyGroup.main`) so no command can drift from it:

====  ====================================================================================================
0     done; nothing found (``scan``), verified (``verify``), targets met (``risk``)
1     findings: PII found (``scan``), a delivery that does not verify (``verify``), a risk target missed
      (``risk``, ``tokenize --max-risk``)
2     usage or input error: a bad option, file, policy, keyset or manifest (a one-line message)
3     internal error: a bug; one line naming the error's type and where it was raised, never its message (it may
      quote a cell); the traceback only under ``tokenize-kit --debug``
====  ====================================================================================================
"""

from __future__ import annotations

import errno
import gc
import os
import sys
import traceback
from importlib import import_module
from pathlib import Path
from typing import Any, NoReturn

import click

from tokenize_kit import __version__

#: command name -> (module, attribute, one-line help shown by ``tokenize-kit --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "keys": ("tokenize_kit.cli.keys", "keys", "Create, rotate and inspect keysets (key material never printed)."),
    "generate": ("tokenize_kit.cli.generate", "generate", "Generate a synthetic Egyptian or Saudi dataset."),
    "schemas": ("tokenize_kit.cli.generate", "schemas", "List, show and validate synthetic dataset schemas."),
    "tokenize": ("tokenize_kit.cli.pipeline", "tokenize", "Tokenize a file's PII columns per a policy."),
    "detokenize": ("tokenize_kit.cli.pipeline", "detokenize", "Reverse tokens back to the original values."),
    "scan": ("tokenize_kit.cli.pipeline", "scan", "Find raw PII in a file; exit 1 when any is found."),
    "verify": ("tokenize_kit.cli.pipeline", "verify", "Check a delivery against its manifest and signature."),
    "risk": ("tokenize_kit.cli.risk", "risk", "Measure re-identification risk (k-anonymity); suggest a fix."),
    "demo": ("tokenize_kit.cli.demo", "demo", "Run the whole job end to end on a built-in example."),
}


EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
#: set to 1 for tracebacks of internal errors (as the global --debug option does)
DEBUG_ENV = "TOKENIZE_KIT_DEBUG"
_debug = False


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    global _debug
    _debug = _debug or value


class Finding(click.ClickException):
    """A command's findings told as a one-line error (exit 1, e.g. ``generate --report``'s failed checks): the one
    ClickException the exit-status table leaves at 1; any other is an input error (2)."""

    exit_code = EXIT_FOUND


def _set_strict(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from tokenize_kit.cli.keys import STRICT_META

    ctx.meta[STRICT_META] = value


def _internal_site(exc: BaseException) -> str:
    """'KeyError in load (keys.py:312)': the error's type and the innermost of our functions it came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}tokenize_kit{os.sep}" in f.filename] or frames
    where = f" in {ours[-1].name} ({Path(ours[-1].filename).name}:{ours[-1].lineno})" if ours else ""
    return f"{type(exc).__name__}{where}"


def _exit(code: int) -> NoReturn:
    sys.exit(code)


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use, and which maps every way a command can end to
    the exit-status table of this module's docstring."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        global _debug
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        _debug = os.environ.get(DEBUG_ENV) == "1"
        try:
            super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            exc.show()
            # click's own usage errors are 2 already; a command's ClickException (1 by default) is an error of its
            # input, never a finding: findings leave through sys.exit(1) or Finding
            _exit(exc.exit_code if exc.exit_code not in (0, 1) or isinstance(exc, Finding) else EXIT_USAGE)
        except click.Abort:
            click.echo("Aborted: interrupted, nothing written", err=True)
            _exit(EXIT_USAGE)
        except click.exceptions.Exit as exc:
            _exit(exc.exit_code)
        except (KeyboardInterrupt, EOFError):
            click.echo("Aborted: interrupted, nothing written", err=True)
            _exit(EXIT_USAGE)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # our reader went away (`| head`): not a failure of ours, nothing to say
                sys.stdout = _Discard()
                _exit(EXIT_USAGE)
            self._internal(exc)
        except Exception as exc:
            self._internal(exc)
        _exit(EXIT_OK)

    @staticmethod
    def _internal(exc: BaseException) -> NoReturn:
        if _debug:
            traceback.print_exception(exc)
        what = "out of memory" if isinstance(exc, MemoryError) else "internal error"
        click.echo(f"Error: {what} ({_internal_site(exc)}); nothing was written. This is a bug: run again with "
                   f"`tokenize-kit --debug ...` for the traceback (it may quote data) and report it", err=True)
        _exit(EXIT_INTERNAL)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attr, _ = entry
        if _PYARROW_WITHOUT_PANDAS and cmd_name != "keys":
            _load_pyarrow_without_pandas()
        return getattr(import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class _Discard:
    """stdout after a broken pipe: interpreter shutdown flushes it without a second error."""

    def write(self, data: Any) -> int:
        return len(data)

    def flush(self) -> None:
        pass


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tokenize-kit")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
              help=f"Print the traceback of an internal error (exit 3; or set {DEBUG_ENV}=1).")
@click.option("--strict", is_flag=True, expose_value=False, callback=_set_strict,
              help="Refuse a keyset file readable by group or others (default: a warning; or set "
                   "TOKENIZE_KIT_STRICT=1).")
def cli() -> None:
    """Tokenize Egyptian and Saudi customer extracts before they leave the company.

    \b
    Typical delivery:
      tokenize-kit keys create keys.json --protect
      tokenize-kit scan extract.csv --suggest-policy policy.yaml
      tokenize-kit tokenize extract.csv out.csv --policy policy.yaml --keyset keys.json
      tokenize-kit scan out.csv --against extract.csv --policy policy.yaml

    \b
    Exit status, every command:
      0  done, nothing found, verified, targets met
      1  findings: PII found (scan), not verified (verify), risk target missed (risk, --max-risk),
         realism check failed (generate --report)
      2  usage or input error (one line: what is wrong and how to fix it)
      3  internal error (one line; the traceback with --debug)
    """


class _HidePandas:
    """A meta path finder under which ``import pandas`` fails; in place only while pyarrow probes for pandas."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas hidden while pyarrow probes for it (tokenize-kit command)", name=name)
        return None


#: whether pyarrow should be loaded without its pandas integration when a command is looked up (set by main())
_PYARROW_WITHOUT_PANDAS = False


def _load_pyarrow_without_pandas() -> None:
    """Load pyarrow and let it make its probes for pandas now, with pandas hidden, then un-hide pandas.

    pyarrow looks for pandas on its first conversion and remembers the answer; no command uses pandas, and
    importing it costs a noticeable share of a short job.  With the answer "not installed" pyarrow runs as it
    does where pandas is not installed (a configuration it supports), and any later ``import pandas`` imports
    it normally: nothing is blocked.
    """
    global _PYARROW_WITHOUT_PANDAS
    _PYARROW_WITHOUT_PANDAS = False
    if "pandas" in sys.modules or "pyarrow" in sys.modules:
        return
    finder = _HidePandas()
    sys.meta_path.insert(0, finder)
    try:
        import pyarrow as pa

        pa.array(["x"])  # pyarrow's probes (its Python shim and its C++ conversion code) run on the first conversion
    finally:
        sys.meta_path.remove(finder)


#: set to 1 to let pyarrow load pandas in the command anyway (nothing in it needs pandas)
ALLOW_PANDAS_ENV = "TOKENIZE_KIT_ALLOW_PANDAS"


def main() -> None:
    """Entry point of the ``tokenize-kit`` command: settings for the command's own process, never the library's.

    Each avoids a cost that is not the job's own (measured in ``docs/benchmarks.md``):

    * pyarrow is loaded without its pandas integration (:func:`_load_pyarrow_without_pandas`, when a command
      other than ``keys`` is looked up; ``TOKENIZE_KIT_ALLOW_PANDAS=1`` lets pyarrow import pandas).
    * At exit the interpreter's last garbage collections walk every object of the loaded libraries;
      :func:`gc.freeze` moves them out of the collector's reach first.  The output file and its manifest are
      already written and synced by then.
    * numpy's OpenBLAS starts a thread pool whose idle threads spin on a core the job's own threads need,
      although no command does floating-point linear algebra: it gets one thread unless
      ``OPENBLAS_NUM_THREADS`` is set.
    * numpy asks for transparent huge pages for every large array.  A job's arrays live for one batch and
      their memory goes back to the OS after it, so each fault would zero a fresh 2 MB page:
      ``NUMPY_MADVISE_HUGEPAGE=0`` (numpy's documented switch, read at its import) unless set.
    """
    global _PYARROW_WITHOUT_PANDAS
    _PYARROW_WITHOUT_PANDAS = os.environ.get(ALLOW_PANDAS_ENV) != "1"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # (both read when numpy loads, after this)
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    try:
        cli(prog_name="tokenize-kit")
    finally:
        gc.freeze()
