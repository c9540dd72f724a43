"""Command-line options as data, read without argparse on the measured start-up paths.

Importing argparse costs ~20 ms on a small machine (it pulls in re, enum, gettext and
locale): more than a whole container set-up of `pyhost run`. A command whose start-up is
measured describes its options once, as a table of `Option`s. argparse is built from that
table for ``--help`` and for every error; `parse` reads the common, well-formed command
lines without it. Whatever `parse` is not sure about (an unknown or abbreviated option, a
missing value, a value that looks like an option, ``--``, ``-h``) it leaves to argparse by
returning None, so the messages, exit codes and corner cases stay argparse's own.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

FLAG = "flag"  # store_true
VALUE = "value"  # store one string (or int with type=int)
APPEND = "append"  # append one string per use


class Option:
    """One option: its spellings, where it goes, and how argparse should show it."""

    def __init__(
        self,
        *flags: str,
        kind: str = VALUE,
        default: Any = None,
        type: Any = None,
        choices: tuple[str, ...] | None = None,
        metavar: str | None = None,
        help: str | None = None,
        group: str | None = None,
        hidden: bool = False,
    ) -> None:
        self.flags = flags
        self.kind = kind
        self.dest = next(f for f in flags if f.startswith("--"))[2:].replace("-", "_")
        self.default = [] if kind == APPEND and default is None else default
        if kind == FLAG and default is None:
            self.default = False
        self.type = type
        self.choices = choices
        self.metavar = metavar
        self.help = help
        self.group = group
        self.hidden = hidden

    def argparse_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of argparse's add_argument for this option."""
        kwargs: dict[str, Any] = {"dest": self.dest}
        if self.kind == FLAG:
            kwargs["action"] = "store_true"
        else:
            if self.kind == APPEND:
                kwargs["action"] = "append"
                kwargs["default"] = []
            else:
                kwargs["default"] = self.default
            for key in ("type", "choices", "metavar"):
                if getattr(self, key) is not None:
                    kwargs[key] = getattr(self, key)
        if self.help is not None:
            kwargs["help"] = self.help
        if self.hidden:
            import argparse

            kwargs["help"] = argparse.SUPPRESS
        return kwargs


class Positional:
    """A positional argument; ``remainder`` takes every word after the ones before it."""

    def __init__(
        self,
        dest: str,
        *,
        metavar: str,
        help: str,
        optional: bool = False,
        remainder: bool = False,
    ) -> None:
        self.dest = dest
        self.metavar = metavar
        self.help = help
        self.optional = optional
        self.remainder = remainder

    def argparse_kwargs(self) -> dict[str, Any]:
        import argparse

        kwargs: dict[str, Any] = {"metavar": self.metavar, "help": self.help}
        if self.remainder:
            kwargs["nargs"] = argparse.REMAINDER
        elif self.optional:
            kwargs["nargs"] = "?"
        return kwargs


class Namespace:
    """The parsed command line, as attributes (what argparse.Namespace gives)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Namespace({self.__dict__!r})"

    if TYPE_CHECKING:  # attributes are the table's dests, as with argparse.Namespace

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...


def add_to_parser(
    parser: Any, options: Sequence[Option], positionals: Sequence[Positional]
) -> None:
    """Declare the table's options and positionals on an argparse parser, in table order."""
    groups: dict[str, Any] = {}
    for option in options:
        target = parser
        if option.group:
            if option.group not in groups:
                groups[option.group] = parser.add_argument_group(option.group)
            target = groups[option.group]
        target.add_argument(*option.flags, **option.argparse_kwargs())
    for positional in positionals:
        parser.add_argument(positional.dest, **positional.argparse_kwargs())


def parse(
    words: Sequence[str], options: Sequence[Option], positionals: Sequence[Positional]
) -> Namespace | None:
    """The options and positionals in ``words`` (after the subcommand), or None where argparse
    must decide. Every option may also be ``--debug`` (pyhost's global flag)."""
    by_flag = {flag: option for option in options for flag in option.flags}
    values: dict[str, Any] = {
        o.dest: list(o.default) if o.kind == APPEND else o.default for o in options
    }
    for p in positionals:
        values[p.dest] = [] if p.remainder else None
    filled = 0
    i = 0
    n = len(words)
    while i < n:
        word = words[i]
        i += 1
        if word == "--":
            return None  # argparse's rules for `--` around positionals are subtle
        if word == "--debug":
            values["debug"] = True
            continue
        if word.startswith("--"):
            name, eq, inline = word.partition("=")
            option = by_flag.get(name)
            if option is None:
                return None  # unknown, abbreviated, or --help
            if option.kind == FLAG:
                if eq:
                    return None
                values[option.dest] = True
                continue
            if not eq:
                if not _takes_next(words, i):
                    return None
                inline = words[i]
                i += 1
            if not _store(values, option, inline):
                return None
            continue
        if word.startswith("-") and len(word) > 1:
            if word[2:3] == "=" or " " in word:
                return None  # argparse's own rules for `-e=X` and `-x y`
            j = 1
            while j < len(word):
                option = by_flag.get("-" + word[j])
                if option is None:
                    return None
                j += 1
                if option.kind == FLAG:
                    values[option.dest] = True
                    continue
                value = word[j:]
                if not value:
                    if not _takes_next(words, i):
                        return None
                    value = words[i]
                    i += 1
                if not _store(values, option, value):
                    return None
                break
            continue
        if filled >= len(positionals):
            return None  # one word too many: argparse words the error
        positional = positionals[filled]
        filled += 1
        values[positional.dest] = word
        if filled < len(positionals) and positionals[filled].remainder:
            if words[i : i + 1] == ["--"]:
                return None  # argparse gives this `--` to the positional before it
            values[positionals[filled].dest] = list(words[i:])
            filled += 1
            break
    for positional in positionals[filled:]:
        if not (positional.optional or positional.remainder):
            return None
    values.setdefault("debug", False)
    return Namespace(**values)


def _takes_next(words: Sequence[str], i: int) -> bool:
    """Whether the word at ``i`` can be an option's value (argparse decides the rest)."""
    return i < len(words) and not words[i].startswith("-")


def _store(values: dict[str, Any], option: Option, text: str) -> bool:
    value: Any = text
    if option.type is not None:
        try:
            value = option.type(text)
        except (TypeError, ValueError):
            return False
    if option.choices is not None and value not in option.choices:
        return False
    if option.kind == APPEND:
        values[option.dest].append(value)
    else:
        values[option.dest] = value
    return True
