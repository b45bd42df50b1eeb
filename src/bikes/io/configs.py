"""Parse, merge and convert config objects (YAML or JSON, local paths or cloud URLs)."""

from __future__ import annotations

import typing as T
from pathlib import Path

from bikes.core.errors import ConfigError

if T.TYPE_CHECKING:  # omegaconf and yaml load in ~0.1 s: only when a config is parsed
    import omegaconf as oc

    Config = oc.DictConfig
CLOUD_SCHEMES = ("s3://", "gs://", "az://")


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
    """Parse an extra config: a YAML/JSON mapping or an OmegaConf dot-list (`a.b=1 c=2`)."""
    import omegaconf as oc

    origin = f"--extras {string!r}"
    if "=" in string and not string.lstrip().startswith("{"):
        try:
            return oc.OmegaConf.from_dotlist(string.split())
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
    return T.cast(dict[str, T.Any], obj)


ModelT = T.TypeVar("ModelT")


def validate(model: type[ModelT], obj: T.Any, origin: str) -> ModelT:
    """Validate a config object against a model, naming the origin and fields of every error."""
    import pydantic as pdt

    try:
        return pdt.TypeAdapter(model).validate_python(obj)
    except pdt.ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            field = ".".join(str(part) for part in item["loc"]) or "(root)"
            problems.append(f"{field}: {item['msg']}")
        raise ConfigError(f"{origin}: " + "; ".join(problems)) from None
