from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from plugin.errors import ConfigurationError
from plugin.settings import DEFAULT_ADMIN_TOKEN, ApiSettings, DicomSettings, Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SIMCASE_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    s = Settings()
    assert s.database_url is None
    assert s.dicom.ae_title == "SIMCASE"
    assert s.dicom.port == 11112
    assert s.dicom.allowed_aes == []
    assert s.dicom.min_free_mb == 1024
    assert (s.dicom.max_associations, s.dicom.max_associations_per_peer) == (16, 4)
    assert (s.dicom.max_pending_connections, s.dicom.max_pending_per_peer) == (8, None)
    assert (s.dicom.pending_connections, s.dicom.pending_per_peer) == (8, 4)
    assert s.api.host == "127.0.0.1"
    assert s.api.port == 8000
    assert s.data_dir.name == "simcase"
    assert not s.results.configured


def test_environment_names_are_the_contract(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "SIMCASE_DATABASE_URL": "postgresql://u@db/simcase",
        "SIMCASE_DATA_DIR": str(tmp_path),
        "SIMCASE_MODEL_DIR": str(tmp_path / "m"),
        "SIMCASE_DICOM__AE_TITLE": "SIMTEST",
        "SIMCASE_DICOM__PORT": "4242",
        "SIMCASE_DICOM__ALLOWED_AES": "ORTHANC, PACS2 ,",
        "SIMCASE_DICOM__DEBOUNCE_SECONDS": "1.5",
        "SIMCASE_DICOM__STABLE_SECONDS": "12",
        "SIMCASE_DICOM__MIN_FREE_MB": "2048",
        "SIMCASE_DICOM__MAX_ASSOCIATIONS_PER_PEER": "6",
        "SIMCASE_RESULTS__AE_TITLE": "ORTHANC",
        "SIMCASE_RESULTS__HOST": "127.0.0.1",
        "SIMCASE_RESULTS__PORT": "4243",
        "SIMCASE_PACS__DICOMWEB_URL": "http://127.0.0.1:8042/dicom-web",
        "SIMCASE_API__HOST": "127.0.0.2",
        "SIMCASE_API__PORT": "8123",
        "SIMCASE_API__ADMIN_TOKEN": "s3cret",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    assert s.database_url == "postgresql://u@db/simcase"
    assert s.data_dir == tmp_path
    assert s.model_dir == tmp_path / "m"
    assert s.dicom.ae_title == "SIMTEST"
    assert s.dicom.port == 4242
    assert s.dicom.allowed_aes == ["ORTHANC", "PACS2"]
    assert s.dicom.debounce_seconds == 1.5
    assert s.dicom.stable_seconds == 12
    assert s.dicom.min_free_mb == 2048
    assert s.dicom.max_associations_per_peer == 6
    assert (s.results.ae_title, s.results.host, s.results.port) == ("ORTHANC", "127.0.0.1", 4243)
    assert s.results.configured
    assert s.pacs.dicomweb_url == "http://127.0.0.1:8042/dicom-web"
    assert (s.api.host, s.api.port, s.api.admin_token) == ("127.0.0.2", 8123, "s3cret")
    assert s.spool_dir == tmp_path / "spool"


def test_toml_file_sets_keys_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "simcase.toml"
    config.write_text('[dicom]\nae_title = "FROMTOML"\nport = 5000\n[api]\nport = 9000\n')
    monkeypatch.setenv("SIMCASE_CONFIG", str(config))
    monkeypatch.setenv("SIMCASE_API__PORT", "9001")
    s = Settings()
    assert s.dicom.ae_title == "FROMTOML"
    assert s.dicom.port == 5000
    assert s.api.port == 9001


def test_missing_config_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIMCASE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigurationError, match="not a file"):
        Settings()


def test_results_destination_is_cstore_or_stow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCASE_RESULTS__HOST", "127.0.0.1")
    with pytest.raises(ValidationError, match="together"):
        Settings()
    monkeypatch.setenv("SIMCASE_RESULTS__AE_TITLE", "ORTHANC")
    monkeypatch.setenv("SIMCASE_RESULTS__PORT", "4242")
    monkeypatch.setenv("SIMCASE_RESULTS__STOW_URL", "http://127.0.0.1/dicom-web/studies")
    with pytest.raises(ValidationError, match="not both"):
        Settings()


def test_invalid_port_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCASE_DICOM__PORT", "70000")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.1.2.3"])
def test_default_token_allowed_on_loopback(host: str) -> None:
    ApiSettings(host=host, admin_token=DEFAULT_ADMIN_TOKEN).check_safe()


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "simcase.example.org"])
def test_default_token_refused_off_loopback(host: str) -> None:
    with pytest.raises(ConfigurationError, match="SIMCASE_API__ADMIN_TOKEN"):
        ApiSettings(host=host, admin_token=DEFAULT_ADMIN_TOKEN).check_safe()
    ApiSettings(
        host=host, admin_token="a-real-secret-of-24-chars", search_token="s" * 24
    ).check_safe()


@pytest.mark.parametrize("token", ["", "x", "s3cret", "a" * 23, " " * 30])
def test_short_token_refused_off_loopback(token: str) -> None:
    with pytest.raises(ConfigurationError, match="at least 24"):
        ApiSettings(host="0.0.0.0", admin_token=token).check_safe()
    ApiSettings(host="127.0.0.1", admin_token=token).check_safe()


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "simcase.example.org"])
def test_open_search_refused_off_loopback(host: str) -> None:
    """Off loopback the search endpoints need a credential: a search token of at least
    24 characters, or a trusted sign-on proxy header; on loopback none is needed."""
    admin = "a-real-secret-of-24-chars"
    with pytest.raises(ConfigurationError, match="SIMCASE_API__SEARCH_TOKEN"):
        ApiSettings(host=host, admin_token=admin).check_safe()
    with pytest.raises(ConfigurationError, match="SIMCASE_API__TRUSTED_USER_HEADER"):
        ApiSettings(host=host, admin_token=admin, search_token="  ").check_safe()
    with pytest.raises(ConfigurationError, match="search token of 6 characters"):
        ApiSettings(host=host, admin_token=admin, search_token="s3cret").check_safe()
    ApiSettings(host=host, admin_token=admin, search_token="s" * 24).check_safe()
    ApiSettings(host=host, admin_token=admin, trusted_user_header="X-Forwarded-User").check_safe()
    ApiSettings(host="127.0.0.1", admin_token=admin).check_safe()


def test_search_credential_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCASE_API__SEARCH_TOKEN", "t" * 30)
    monkeypatch.setenv("SIMCASE_API__TRUSTED_USER_HEADER", "X-Forwarded-User")
    api = Settings().api
    assert (api.search_token, api.trusted_user_header) == ("t" * 30, "X-Forwarded-User")
    assert not api.search_open
    monkeypatch.setenv("SIMCASE_API__SEARCH_TOKEN", "")
    monkeypatch.setenv("SIMCASE_API__TRUSTED_USER_HEADER", "")
    assert Settings().api.search_open  # empty is unset
    monkeypatch.setenv("SIMCASE_API__TRUSTED_USER_HEADER", "X-User: evil")
    with pytest.raises(ValidationError):
        Settings()


def test_dicom_tls_off_by_default_and_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not Settings().dicom.tls.enabled
    monkeypatch.setenv("SIMCASE_DICOM__TLS__CERT_FILE", "/etc/simcase/dicom.pem")
    monkeypatch.setenv("SIMCASE_DICOM__TLS__KEY_FILE", "/etc/simcase/dicom.key")
    monkeypatch.setenv("SIMCASE_DICOM__TLS__CA_FILE", "/etc/simcase/senders-ca.pem")
    monkeypatch.setenv("SIMCASE_DICOM__TLS__REQUIRE_CLIENT_CERT", "true")
    tls = Settings().dicom.tls
    assert tls.enabled
    assert tls.cert_file == Path("/etc/simcase/dicom.pem")
    assert tls.key_file == Path("/etc/simcase/dicom.key")
    assert tls.ca_file == Path("/etc/simcase/senders-ca.pem")
    assert tls.require_client_cert


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"CERT_FILE": "/c.pem"}, "cert_file and key_file together"),
        ({"KEY_FILE": "/k.pem"}, "cert_file and key_file together"),
        (
            {"CERT_FILE": "/c.pem", "KEY_FILE": "/k.pem", "REQUIRE_CLIENT_CERT": "true"},
            "require_client_cert needs ca_file",
        ),
        ({"CA_FILE": "/ca.pem"}, "TLS is off"),
    ],
)
def test_incomplete_dicom_tls_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(f"SIMCASE_DICOM__TLS__{name}", value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_pending_connections_follow_the_associations_a_peer_may_hold() -> None:
    """A peer allowed 8 associations may open them at once: its 8 connections wait for
    their A-ASSOCIATE-RQ side by side (a cap of 4 closed a legitimate burst's oldest)."""
    dicom = DicomSettings(max_associations_per_peer=8)
    assert (dicom.pending_per_peer, dicom.pending_connections) == (8, 8)
    dicom = DicomSettings(max_associations_per_peer=20, max_pending_per_peer=2)
    assert (dicom.pending_per_peer, dicom.pending_connections) == (2, 8)
    assert DicomSettings(max_associations_per_peer=12).pending_connections == 12
