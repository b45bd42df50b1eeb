"""Shell completion of the `bikes` command (bash, zsh, fish), made from its argument parser.

The options and their help come from the parser, so the scripts never drift from the command;
the positional arguments complete config files (`*.yaml`, `*.yml`, `*.json`) and folders.
"""

from __future__ import annotations

import typing as T

if T.TYPE_CHECKING:
    import argparse

SUFFIXES = ("yaml", "yml", "json")

BASH = """\
# bash completion of bikes: eval "$(bikes --completion bash)"
_bikes() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} file
    COMPREPLY=()
    case $prev in
{choices}
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "{flags}" -- "$cur"))
        return
    fi
    while IFS= read -r file; do
        case $file in
            {patterns}) COMPREPLY+=("$file") ;;
            *) [[ -d $file ]] && COMPREPLY+=("$file") ;;
        esac
    done < <(compgen -f -- "$cur")
}}
complete -o filenames -F _bikes bikes
"""

ZSH = """\
#compdef bikes
# zsh completion of bikes: eval "$(bikes --completion zsh)", or save it as _bikes in $fpath
_bikes() {{
    _arguments -s \\
{options}
        '*:config file:_files -g "*.({suffixes})"'
}}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _bikes "$@"
else
    compdef _bikes bikes
fi
"""


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Return the options of a parser (the actions that have flags)."""
    return [action for action in parser._actions if action.option_strings]


def bash(parser: argparse.ArgumentParser) -> str:
    """Return the bash completion script of a parser."""
    flags = " ".join(flag for action in options(parser) for flag in action.option_strings)
    choices = "\n".join(
        f"        {'|'.join(action.option_strings)}) COMPREPLY=($(compgen -W"
        f' "{" ".join(map(str, action.choices))}" -- "$cur")); return ;;'
        for action in options(parser)
        if action.choices
    )
    patterns = "|".join(f"*.{suffix}" for suffix in SUFFIXES)
    return BASH.format(choices=choices, flags=flags, patterns=patterns)


def zsh_text(text: str | None) -> str:
    """Return a help text as a zsh `_arguments` description (no brackets, quotes or colons)."""
    cleaned = (text or "").replace("[", "(").replace("]", ")").replace(":", " ")
    return cleaned.replace("'", "").replace('"', "")


def zsh(parser: argparse.ArgumentParser) -> str:
    """Return the zsh completion script of a parser."""
    lines = []
    for action in options(parser):
        flags = action.option_strings
        names = f"{{{','.join(flags)}}}" if len(flags) > 1 else flags[0]
        exclusive = f"'({' '.join(flags)})'" if len(flags) > 1 else ""
        if action.choices:
            value = f":{action.dest}:({' '.join(map(str, action.choices))})"
        elif action.nargs == "*":
            value = f":{action.dest}:"
        else:
            value = ""
        lines.append(f"        {exclusive}{names}'[{zsh_text(action.help)}]{value}' \\")
    return ZSH.format(options="\n".join(lines), suffixes="|".join(SUFFIXES))


def fish(parser: argparse.ArgumentParser) -> str:
    """Return the fish completion script of a parser."""
    lines = ["# fish completion of bikes: bikes --completion fish > ~/.config/fish/completions/"]
    for action in options(parser):
        flags = []
        for flag in action.option_strings:
            flags.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
        description = (action.help or "").replace("'", "")
        choices = f" -x -a '{' '.join(map(str, action.choices))}'" if action.choices else ""
        lines.append(f"complete -c bikes {' '.join(flags)}{choices} -d '{description}'")
    suffixes = " ".join(f".{suffix}" for suffix in SUFFIXES)
    lines.append(f"complete -c bikes -k -a '(__fish_complete_suffix {suffixes})'")
    return "\n".join(lines) + "\n"


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """Return the completion script of a parser for a shell: `bash`, `zsh` or `fish`."""
    makers = {"bash": bash, "zsh": zsh, "fish": fish}
    return makers[shell](parser)
