"""Parse, merge and convert config objects (YAML or JSON, local paths or cloud URLs)."""

from __future__ import annotations

import re
import typing as T
from pathlib import Path

from bikes.core.errors import ConfigError

if T.TYPE_CHECKING:  # omegaconf and yaml load in ~0.1 s: only when a config is parsed
    import omegaconf as oc

    Config = oc.DictConfig
CLOUD_SCHEMES = ("s3://", "gs://", "az://")
# a dot-list splits at the spaces before a `key=`: the values may hold spaces (`a=hello world b=1`)
DOT_LIST_ITEMS = re.compile(r"\s+(?=[^\s=]+=)")
HIDDEN = "(value hidden)"


class Resolved(str):
    """A string that an interpolation gave (e.g. `${oc.env:TOKEN}`): errors never print it."""

    __slots__ = ()


def read_text(path: str) -> str:
    """Read the text of a local file or a cloud URL (s3://, gs://, az://)."""
    try:
        if path.startswith(CLOUD_SCHEMES):
            from cloudpathlib import AnyPath

            return AnyPath(path).read_text(encoding="utf-8")
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: config file not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file ({error})") from error
    except Exception as error:  # cloudpathlib raises its own (credentials, missing bucket)
        message = f"{path}: cannot read config file ({type(error).__name__}: {error})"
        raise ConfigError(message) from error


def load_mapping(text: str, origin: str) -> Config:
    """Parse a YAML (or JSON) mapping; `origin` names the file or string in errors."""
    import omegaconf as oc
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{origin}:{where} invalid YAML: {problem}") from error
    if data is None:
        raise ConfigError(f"{origin}: config is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: config must be a mapping, got {type(data).__name__}")
    return oc.OmegaConf.create(data)


def parse_file(path: str) -> Config:
    """Parse a config file (YAML or JSON) from a local path or a cloud URL."""
    return load_mapping(read_text(path), origin=path)


def parse_string(string: str) -> Config:
    """Parse an extra config: a YAML/JSON mapping or an OmegaConf dot-list (`a.b=1 c=two words`).

    A dot-list splits only before each `key=`: a value may hold spaces, not ` key=` (give such a
    value in a YAML mapping: `{a: 'x y=z'}`).
    """
    import omegaconf as oc

    origin = f"--extras {string!r}"
    if "=" in string and not string.lstrip().startswith("{"):
        items = DOT_LIST_ITEMS.split(string.strip())
        if "=" not in items[0]:
            raise ConfigError(f"{origin}: invalid dot-list ({items[0]!r} is not key=value)")
        try:
            return oc.OmegaConf.from_dotlist(items)
        except Exception as error:  # omegaconf raises grammar errors of several types
            raise ConfigError(f"{origin}: invalid dot-list ({error})") from error
    return load_mapping(string, origin=origin)


def merge_configs(configs: T.Sequence[Config]) -> Config:
    """Merge configs from left to right (the last one wins)."""
    import omegaconf as oc

    return T.cast("Config", oc.OmegaConf.merge(*configs))


def register_resolvers() -> None:
    """Register the resolvers of the configs: `${catalog:<name>}`, a path of the data catalog."""
    import omegaconf as oc

    from bikes.io import catalog

    if not oc.OmegaConf.has_resolver("catalog"):
        oc.OmegaConf.register_resolver("catalog", catalog.path)


def to_object(config: Config) -> dict[str, T.Any]:
    """Convert a config to a plain dict, resolving interpolations (`${catalog:...}` included)."""
    import omegaconf as oc

    register_resolvers()
    try:
        obj = oc.OmegaConf.to_container(config, resolve=True)
    except oc.errors.OmegaConfBaseException as error:
        key = getattr(error, "full_key", None)
        where = f"{key}: " if key else ""
        message = (getattr(error, "msg", None) or str(error)).splitlines()[0]
        raise ConfigError(f"config: {where}cannot resolve interpolation ({message})") from error
    return T.cast(dict[str, T.Any], mark_resolved(config, obj))


def mark_resolved(config: oc.DictConfig | oc.ListConfig, obj: T.Any) -> T.Any:
    """Wrap in `Resolved` the strings of `obj` (the resolved `config`) that interpolations gave."""
    import omegaconf as oc

    keys: T.Iterable[T.Any] = (
        config.keys() if isinstance(config, oc.DictConfig) else range(len(config))
    )
    for key in keys:
        value = obj[key]
        if isinstance(value, str) and oc.OmegaConf.is_interpolation(config, key):
            obj[key] = Resolved(value)
        elif isinstance(value, dict | list):
            mark_resolved(config[key], value)
    return obj


ModelT = T.TypeVar("ModelT")


def validate(model: type[ModelT], obj: T.Any, origin: str) -> ModelT:
    """Validate a config object against a model, naming the origin and fields of every error.

    Errors print the values written in the config (e.g. a mistyped `KIND`), never those that an
    interpolation gave (`Resolved`): `${oc.env:...}` may hold a secret.
    """
    import pydantic as pdt

    try:
        return pdt.TypeAdapter(model).validate_python(plain(obj))
    except pdt.ValidationError as error:
        hidden = sorted({text for text in resolved(obj) if text}, key=len, reverse=True)
        problems = []
        for item in error.errors(include_url=False):
            field = ".".join(str(part) for part in item["loc"]) or "(root)"
            message = item["msg"]
            for text in hidden:  # quoted by pydantic (a tag) or by validators (`{value!r}`)
                message = message.replace(repr(text), HIDDEN).replace(text, HIDDEN)
            problems.append(f"{field}: {message}")
        raise ConfigError(f"{origin}: " + "; ".join(problems)) from None


def resolved(obj: T.Any) -> T.Iterator[Resolved]:
    """Yield the `Resolved` strings of a config object."""
    if isinstance(obj, Resolved):
        yield obj
    elif isinstance(obj, dict | list):
        for value in obj.values() if isinstance(obj, dict) else obj:
            yield from resolved(value)


def plain(obj: T.Any) -> T.Any:
    """Copy a config object with plain strings for its `Resolved` ones (for fields of any type)."""
    if isinstance(obj, Resolved):
        return str(obj)
    if isinstance(obj, dict):
        return {key: plain(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [plain(value) for value in obj]
    return obj
