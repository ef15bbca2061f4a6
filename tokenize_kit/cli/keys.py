"""``tokenize-kit keys``: create, rotate and inspect keysets.

Key material is never accepted on the command line and never printed; passphrases come from
``$TOKENIZE_KIT_PASSPHRASE`` or a hidden prompt.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import click

from tokenize_kit.keys import PASSPHRASE_ENV, Keyset, KeysetError


class Refused(click.ClickException):
    """A file that exists and would be overwritten (or another usage / environment problem): exit 2."""

    exit_code = 2


def _new_passphrase() -> str:
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        raise click.ClickException(
            f"--protect needs a passphrase: set {PASSPHRASE_ENV} or run in a terminal to be prompted"
        )
    return click.prompt("Passphrase for the new keyset", hide_input=True, confirmation_prompt=True)


#: set to 1 to refuse keysets readable by group or others, as the global --strict option does
STRICT_ENV = "TOKENIZE_KIT_STRICT"
#: where the global --strict option is kept in the click context
STRICT_META = "tokenize_kit.strict"


def strict_mode() -> bool:
    """Whether ``tokenize-kit --strict`` (or ``$TOKENIZE_KIT_STRICT=1``) is in force for this command."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(STRICT_META)) or os.environ.get(STRICT_ENV) == "1"


def load_keyset(path: Path) -> Keyset:
    """Load a keyset for a CLI command: passphrase from the environment, else a hidden prompt.

    A keyset readable by group or others gives a warning on stderr, or under ``--strict`` an error."""
    strict = strict_mode()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                ks = Keyset.load(path, strict=strict)
            except KeysetError as exc:
                if type(exc).__name__ != "PassphraseRequiredError" or not sys.stdin.isatty():
                    raise
                ks = Keyset.load(path, passphrase=click.prompt(f"Passphrase for {path}", hide_input=True),
                                 strict=strict)
        for w in caught:
            click.echo(f"warning: {w.message}", err=True)
        return ks
    except KeysetError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def keys() -> None:
    """Create, rotate and inspect keysets.

    \b
    A keyset is a JSON file (mode 0600) of named keys, each with numbered versions of 256-bit
    material.  Tokens are made with subkeys derived per PII type, so one keyset serves a whole
    policy.  Material is never printed; `keys show` prints fingerprints instead.  A keyset file
    readable by group or others gives a warning; `tokenize-kit --strict ...` refuses it.

    \b
    Examples:
      TOKENIZE_KIT_PASSPHRASE=... tokenize-kit keys create keys.json --protect
      tokenize-kit keys rotate keys.json
      tokenize-kit keys show keys.json
      tokenize-kit keys create-signing signing.pem signing.pub
    """


@keys.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default="default", show_default=True, help="Name of the first key in the keyset.")
@click.option(
    "--protect/--no-protect",
    default=False,
    help=f"Encrypt the key material under a passphrase (scrypt + AES-256-GCM), read from ${PASSPHRASE_ENV} "
    "or prompted.  Strongly recommended.",
)
@click.option("--force", is_flag=True, help="Replace an existing keyset at PATH (its keys are lost: tokens made "
              "with them can no longer be reversed).")
def create(path: Path, name: str, protect: bool, force: bool) -> None:
    """Create a new keyset file at PATH (refuses to overwrite one unless --force)."""
    from tokenize_kit.io import InputError

    if os.path.lexists(path) and not force:
        raise Refused(f"{path} already exists; refusing to overwrite a keyset (choose another path, or pass --force "
                      "to replace it and lose its keys)")
    passphrase = _new_passphrase() if protect else None
    ks = Keyset.generate(name)
    try:
        ks.save(path, passphrase=passphrase, overwrite=force)
    except (KeysetError, InputError) as exc:
        raise Refused(str(exc)) from None
    if not protect:
        click.echo(
            "warning: the keyset is not passphrase-protected; anyone who can read it can reverse tokens "
            "(use --protect)",
            err=True,
        )
    click.echo(f"created {path} (mode 0600): key {name!r} version 1, fingerprint {ks.fingerprint(name)}")


@keys.command("rotate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default="default", show_default=True, help="Key to rotate.")
def rotate(path: Path, name: str) -> None:
    """Add a new version of a key and make it primary.

    Existing tokens stay reversible with their old version (the manifest of each delivery records
    the version used); new deliveries use the new primary version.  The keyset is rewritten in place,
    atomically: a new file is written and fsynced beside it, then renamed over it.
    """
    from tokenize_kit.io import InputError

    ks = load_keyset(path)
    try:
        version = ks.rotate(name)
        passphrase = None
        if ks.protected:
            passphrase = os.environ.get(PASSPHRASE_ENV) or click.prompt(f"Passphrase for {path}", hide_input=True)
        ks.save(path, passphrase=passphrase, overwrite=True)  # (in place by design, in one rename)
    except KeysetError as exc:
        raise click.ClickException(str(exc)) from None
    except InputError as exc:  # (a full disk, a read-only folder: the keyset is left as it was)
        raise Refused(str(exc)) from None
    click.echo(f"rotated key {name!r} in {path}: version {version} is now primary ({ks.fingerprint(name, version)})")


@keys.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show(path: Path) -> None:
    """Print key names, versions, creation times and fingerprints (never key material)."""
    ks = load_keyset(path)
    click.echo(f"{path}: {'passphrase-protected' if ks.protected else 'NOT protected'}")
    click.echo(f"{'key':<16} {'version':>7}  {'created':<20} {'fingerprint':<16}  primary")
    for row in ks.describe():
        mark = "*" if row["primary"] else ""
        click.echo(f"{row['name']:<16} {row['version']:>7}  {row['created']:<20} {row['fingerprint']:<16}  {mark}")


@keys.command("create-signing")
@click.argument("private_path", metavar="PRIVATE", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("public_path", metavar="PUBLIC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--protect", is_flag=True, help=f"Encrypt the private key with ${PASSPHRASE_ENV}.")
@click.option("--force", is_flag=True, help="Replace existing key files (the old key can then no longer sign).")
def create_signing(private_path: Path, public_path: Path, protect: bool, force: bool) -> None:
    """Create an Ed25519 key pair for signing delivery manifests (private key file mode 0600).

    Give PUBLIC to vendors so they can run `tokenize-kit verify DELIVERY --public-key PUBLIC`.
    """
    from tokenize_kit.io import InputError
    from tokenize_kit.manifest import create_signing_key

    passphrase = os.environ.get(PASSPHRASE_ENV) if protect else None
    if protect and not passphrase:
        raise click.ClickException(f"--protect needs ${PASSPHRASE_ENV}")
    try:
        kid = create_signing_key(private_path, public_path, passphrase, overwrite=force)
    except (FileExistsError, InputError) as exc:
        raise Refused(str(exc)) from None
    click.echo(f"created signing key {private_path} (0600) and public key {public_path} (key id {kid})")
