"""Bash completion of the `sweep` command, written out from its argparse parser.

    eval "$(sweep completion bash)"   # in this shell (README: how to keep it for every shell)

The script is plain bash, generated from the parser, so it always lists the subcommands and
options the parser has, and completing a word starts no Python. It completes the subcommands,
each subcommand's options, the choices of an option or argument that has them (`sweep fit
--law`, `sweep completion`), file names after an option that takes a path (`--csv`,
`--runs-table`) and for other arguments (sweep folders, overrides); after any other option
that takes a value it offers nothing.
(`sweep-train` completes with Hydra's own `--shell-completion`.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

SHELLS = ("bash",)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse has no public way to list a parser's arguments; `_actions` is the one every
    # completion tool reads. A subparsers action is the one whose choices map names to parsers.
    for action in parser._actions:
        if isinstance(action.choices, dict):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if action.option_strings]


def _words(words: list[str]) -> str:
    return " ".join(words)


def path_value(text: str) -> Path:
    """The type of every path option of `sweep`: its values complete as file names (`_value_case`);
    an empty one is refused (Path('') is the current folder: `sweep report --out ''` wrote the
    report over ./runs.csv)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: give a path (. for the current folder)")
    return Path(text)


def _value_case(action: argparse.Action) -> str | None:
    """The bash `case` branch for the word after `action`'s option, if the option takes a value."""
    if action.nargs == 0:
        return None
    pattern = "|".join(action.option_strings)
    if action.choices is not None:
        reply = f'COMPREPLY=($(compgen -W "{_words([str(c) for c in action.choices])}" -- "$cur"))'
    elif action.type is path_value:
        reply = 'COMPREPLY=($(compgen -f -- "$cur"))'
    else:
        return f"                {pattern}) return ;;"  # a number or a name: nothing to offer
    return f"                {pattern}) {reply}; return ;;"


def bash_completion(parser: argparse.ArgumentParser) -> str:
    """A bash script defining and registering the completion of `parser.prog`."""
    prog = parser.prog
    function = "_" + "".join(c if c.isalnum() else "_" for c in prog) + "_completion"
    commands = _subparsers(parser)
    top = list(commands) + [s for action in _options(parser) for s in action.option_strings]
    branches = []
    for name, sub in commands.items():
        options = _options(sub)
        values = [case for case in map(_value_case, options) if case is not None]
        value_block = ("            case $prev in\n" + "\n".join(values) + "\n            esac\n") if values else ""
        choices = [str(c) for action in sub._actions if not action.option_strings and action.choices
                   for c in action.choices]
        arguments = f'arguments="{_words(choices)}"; ' if choices else ""
        branches.append(
            f"        {name})\n"
            f"{value_block}"
            f'            {arguments}options="{_words([s for action in options for s in action.option_strings])}" ;;'
        )
    return f"""# bash completion of `{prog}`, generated from its argument parser by `{prog} completion bash`
{function}()
{{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local command="" options="" arguments="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            -*) ;;
            *) command=${{COMP_WORDS[i]}}; break ;;
        esac
    done
    case $command in
        "") COMPREPLY=($(compgen -W "{_words(top)}" -- "$cur")); return ;;
{chr(10).join(branches)}
        *) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    elif [[ -n $arguments ]]; then
        COMPREPLY=($(compgen -W "$arguments" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F {function} {prog}
"""
