"""simcase's settings: one pydantic-settings class, environment first.

Environment names are a stable contract (``SIMCASE_`` prefix, ``__`` for nesting),
for example ``SIMCASE_DICOM__PORT=11112``. A TOML file named by ``SIMCASE_CONFIG``
may set the same keys (``[dicom] port = 11112``); the environment wins over it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from indexer.store import IndexOptions
from plugin.api_settings import (
    DEFAULT_ADMIN_TOKEN,
    MIN_ADMIN_TOKEN_LENGTH,
    MIN_SEARCH_TOKEN_LENGTH,
    ApiSettings,
    is_loopback_host,
)
from plugin.dicom_settings import DicomSettings, DicomTlsSettings
from plugin.errors import ConfigurationError

__all__ = [
    "DEFAULT_ADMIN_TOKEN",
    "MIN_ADMIN_TOKEN_LENGTH",
    "MIN_SEARCH_TOKEN_LENGTH",
    "ApiSettings",
    "DemoSettings",
    "DicomSettings",
    "DicomTlsSettings",
    "IndexSettings",
    "PacsSettings",
    "ResultsSettings",
    "Settings",
    "WorkerSettings",
    "default_data_dir",
    "get_settings",
    "is_loopback_host",
]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/simcase``, else ``~/.local/share/simcase``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "simcase"


class ResultsSettings(BaseModel):
    """Where results go: C-STORE (AE title, host, port) or a STOW-RS URL."""

    ae_title: str | None = None
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    stow_url: str | None = None
    #: Also write the query's tumour outline: a DICOM SEG and a TID 1500 report of the
    #: compartments' volumes that references it.
    include_seg: bool = True

    @model_validator(mode="after")
    def _one_destination(self) -> ResultsSettings:
        dimse = [self.ae_title, self.host, self.port]
        if any(v is not None for v in dimse) and self.stow_url:
            raise ValueError(
                "set either results C-STORE (ae_title/host/port) or stow_url, not both"
            )
        if any(v is not None for v in dimse) and not all(v is not None for v in dimse):
            raise ValueError("results C-STORE needs ae_title, host and port together")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.stow_url) or self.host is not None


class PacsSettings(BaseModel):
    """The PACS simcase pulls from (DICOMweb) and, for Orthanc, whose ``/changes`` feed
    it follows (no code inside Orthanc needed)."""

    dicomweb_url: str | None = None
    orthanc_url: str | None = None
    #: The OHIF viewer in front of this PACS (``http://host:3000``): the search page links
    #: query and similar cases that live in the PACS to ``<viewer_url>/viewer?...``.
    viewer_url: str | None = None


class DemoSettings(BaseModel):
    """The synthetic demo archive that ``simcase run`` builds when the archive is empty."""

    cases: int = Field(60, ge=0, le=5000)
    resolution_mm: float = Field(2.0, ge=1.0, le=4.0)


class IndexSettings(BaseModel):
    """The case store's HNSW index (pgvector): ``hnsw_m`` and ``hnsw_ef_construction``
    when a model version's index is built, ``hnsw_ef_search`` for every search.

    The defaults come from the 1,000,000-vector benchmark in ``docs/benchmarks.md``;
    the ranges are checked once, by :class:`~indexer.store.IndexOptions`.
    """

    hnsw_m: int = IndexOptions.m
    hnsw_ef_construction: int = IndexOptions.ef_construction
    hnsw_ef_search: int = IndexOptions.ef_search

    @model_validator(mode="after")
    def _valid_options(self) -> IndexSettings:
        try:
            self.options()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"index: {exc}") from None
        return self

    def options(self) -> IndexOptions:
        """The store's :class:`~indexer.store.IndexOptions` (``open_store``, ``JobResources``)."""
        return IndexOptions(
            m=self.hnsw_m, ef_construction=self.hnsw_ef_construction, ef_search=self.hnsw_ef_search
        )


class WorkerSettings(BaseModel):
    """A job worker (``simcase worker``, and the worker of ``simcase run``).

    ``concurrency`` jobs run at once in one worker process, on threads that share one
    copy of the models (``SIMCASE_WORKER__CONCURRENCY``). One study's job leaves much of
    a second core idle (reading, building and sending the results are mostly Python), so
    with 1, studies arriving together queue behind each other: 4 studies together on 2
    cores finished 1, 2, 3 and 4 jobs after their arrival (docs/reliability.md, section
    31). More workers (processes) add to it; jobs of the same study still run one after
    the other.
    """

    concurrency: int = Field(2, ge=1, le=32)


class Settings(BaseSettings):
    """All of simcase's settings."""

    model_config = SettingsConfigDict(
        env_prefix="SIMCASE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir)
    model_dir: Path | None = None
    dicom: DicomSettings = Field(default_factory=DicomSettings)
    results: ResultsSettings = Field(default_factory=ResultsSettings)
    pacs: PacsSettings = Field(default_factory=PacsSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    #: A port on which a process without the API (``simcase worker``, ``simcase listen``)
    #: serves its own Prometheus metrics, on ``api.host``; unset: none.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("SIMCASE_CONFIG")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ConfigurationError(f"SIMCASE_CONFIG names {path}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def spool_dir(self) -> Path:
        """Where the listener writes received instances."""
        return self.data_dir / "spool"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once."""
    return Settings()
