"""Where pydantic-settings models read their TOML file: one rule for every process.

Precedence: constructor arguments, then environment variables, then the TOML file. The
file is the path in the environment variable `config_env` if that is set (it must exist:
a typo must not silently fall back to defaults), else the first of `config_defaults`
that exists, else none.

`TomlFileSettings` is the base of `peripherals.config.DeviceSettings` (``KIOSK_CONFIG``)
and of `fleet.agent.settings.AgentSettings` (``KIOSK_AGENT_CONFIG``). It lives here, in the
bottom layer, because the agent may import a leaf module of `peripherals` while
`peripherals` must not import `fleet` (whose `fleet.protocol` pulls in paho-mqtt); keep
it free of any other project import.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource


def settings_file(env_var: str, defaults: Sequence[Path]) -> Path | None:
    """The TOML file to read: ``$env_var`` if set, else the first existing default, else None."""
    explicit = os.environ.get(env_var)
    if explicit:
        return Path(explicit)
    return next((path for path in defaults if path.is_file()), None)


class TomlFileSettings(BaseSettings):
    """`BaseSettings` that also read a TOML file: ``$config_env`` if set, else the first
    existing path of `config_defaults`. Subclasses set both class variables."""

    config_env: ClassVar[str]
    config_defaults: ClassVar[tuple[Path, ...]] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init, environment, then the file (if any); FileNotFoundError when ``$config_env``
        names a file that does not exist."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = settings_file(cls.config_env, cls.config_defaults)
        if path is not None:
            if not path.is_file():
                raise FileNotFoundError(f"{cls.config_env} points to {path}, which does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)
