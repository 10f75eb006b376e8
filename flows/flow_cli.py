"""Command-line flags derived from a flow's signature, so flags, help and defaults cannot drift.

One flag per flow parameter: booleans get ``--x/--no-x``, ``Literal`` types get choices, optional
values accept ``none`` (or an empty string, except for text), and lists take comma-separated items. Used by
``gan-augment run``, ``gan-augment evaluate-augmentation``, ``python -m flows.<flow>`` and
``benchmarks/utility_benchmark.py``. It never imports a flow module, so no import circle.
"""

from __future__ import annotations

import argparse
import inspect
import types
import typing
from typing import Any, Callable, Sequence


def _strip(annotation: Any) -> tuple[Any, bool]:
    """Unwraps Annotated and Optional, nested too (``Annotated[int | None, ...] | None``); returns
    (type, is_optional)."""
    optional = False
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
            annotation
        ):
            optional = True
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = members[0] if len(members) == 1 else typing.Union[tuple(members)]
        else:
            return annotation, optional


def _item_parser(annotation: Any, flag: str) -> Callable[[str], Any]:
    """Parses one list item: the first member of a union of int / Literal that accepts it."""
    members = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )

    def parse(text: str) -> Any:
        text = text.strip()
        for member in members:
            base, _ = _strip(member)
            if typing.get_origin(base) is typing.Literal:
                if text.lower() in [str(choice).lower() for choice in typing.get_args(base)]:
                    return text.lower()
            else:
                try:
                    return base(text)
                except ValueError:
                    continue
        raise argparse.ArgumentTypeError(f"bad {flag.lstrip('-')} item {text!r}")

    return parse


def _value_parser(kind: Any, optional: bool, flag: str) -> Callable[[str], Any]:
    if typing.get_origin(kind) is list:
        item = _item_parser(typing.get_args(kind)[0], flag)

        def parse(text: str) -> Any:
            return [item(part) for part in text.split(",")]

        parse.__name__ = "list"
    else:

        def parse(text: str) -> Any:
            return kind(text)

        parse.__name__ = getattr(kind, "__name__", "value")  # argparse names it in "invalid int value"
    if not optional:
        return parse

    # An empty string is a value for text parameters ('' switches DiffAugment off), None otherwise.
    empty_is_none = kind is not str

    def parse_optional(text: str) -> Any:
        word = text.strip().lower()
        return None if word in ("none", "null") or (word == "" and empty_is_none) else parse(text)

    parse_optional.__name__ = parse.__name__
    return parse_optional


def add_flow_arguments(parser: argparse.ArgumentParser, flow_obj, exclude: Sequence[str] = ()) -> None:
    """Adds one flag per parameter of ``flow_obj`` (a Prefect flow) to ``parser``."""
    properties = flow_obj.parameters.model_dump()["properties"]
    hints = typing.get_type_hints(flow_obj.fn, include_extras=True)
    for name, parameter in inspect.signature(flow_obj.fn).parameters.items():
        if name in exclude:
            continue
        kind, optional = _strip(hints[name])
        flag = "--" + name.replace("_", "-")
        help_text = f"{properties.get(name, {}).get('description', '')} (default: {parameter.default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=parameter.default, help=help_text)
        elif typing.get_origin(kind) is typing.Literal:
            choices = typing.get_args(kind)
            # Choices such as channels (1 or 3) are ints: parse the flag's text to the choices' type.
            parse = _value_parser(type(choices[0]), optional, flag)
            parser.add_argument(
                flag,
                type=parse,
                choices=choices + ((None,) if optional else ()),
                default=parameter.default,
                help=help_text,
            )
        else:
            parse = _value_parser(kind, optional, flag)
            parser.add_argument(flag, type=parse, default=parameter.default, help=help_text, dest=name)


def flow_parameters(flow_obj, arguments: argparse.Namespace, exclude: Sequence[str] = ()) -> dict:
    """The flow's keyword arguments from parsed flags (parameters in ``exclude`` are left out)."""
    names = inspect.signature(flow_obj.fn).parameters
    return {name: getattr(arguments, name) for name in names if name not in exclude}


def run_parsed(flow_obj, arguments: argparse.Namespace, errors: tuple[type[BaseException], ...], prog: str) -> int:
    """Runs the flow with parsed flags and prints its JSON summary.

    An expected failure ends with one line ``<prog>: <message>`` on stderr and the exit code of
    its class (:mod:`flows.exit_codes`); its traceback goes to the Prefect run log only. The line
    is printed at interpreter exit, after Prefect's own exit logs, so it is the last one. An
    unexpected error (a bug) keeps its traceback. ``errors`` are further classes that mean
    invalid parameters (exit 2).
    """
    import atexit
    import json
    import sys

    from prefect.exceptions import ParameterTypeError

    from flows import child_guard
    from flows.exit_codes import exit_code, one_line, quiet_console_tracebacks

    child_guard.start()  # the temporary Prefect server must not outlive us, even after SIGKILL
    quiet_console_tracebacks()
    # Registered before the flow starts Prefect's temporary server, whose exit handler logs
    # "Stopping temporary server": handlers run last-in first-out, so the error stays the last line.
    last_line: list[str] = []
    atexit.register(lambda: last_line and print(last_line[0], file=sys.stderr, flush=True))
    try:
        summary = flow_obj(**flow_parameters(flow_obj, arguments))
    except Exception as error:
        code = exit_code(error)
        if code is None and isinstance(error, (ParameterTypeError, *errors)):
            code = 2
        if code is None:
            raise
        last_line.append(f"{prog}: {one_line(error)}")
        return code
    print(json.dumps(summary, indent=2, default=str))
    return 0


def flow_main(flow_obj, argv: Sequence[str], errors: tuple[type[BaseException], ...], prog: str) -> int:
    """``python -m flows.<flow>``: parse flags for ``flow_obj`` and run it, from its own module."""
    parser = argparse.ArgumentParser(prog=prog, description=flow_obj.description)
    add_flow_arguments(parser, flow_obj)
    return run_parsed(flow_obj, parser.parse_args(argv), errors, prog)
