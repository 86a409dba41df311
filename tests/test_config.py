"""config.yaml: defaults for every key, strict validation naming file and key, env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanya.config import Settings, load_config
from tanya.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_no_file_gives_defaults() -> None:
    settings = load_config(None, environ={})
    assert settings.model.name == "bundled"
    assert settings.answer.max_quotes == 3


def test_shipped_config_is_valid_and_matches_defaults() -> None:
    shipped = load_config(ROOT / "config.yaml", environ={})
    defaults = Settings()
    assert shipped.model_dump() == defaults.model_dump()


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("answer:\n  max_quotes: 5\n")
    settings = load_config(path, environ={})
    assert settings.answer.max_quotes == 5
    assert settings.answer.min_score == Settings().answer.min_score


def test_relative_paths_resolve_from_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sources: [news]\nindex_dir: idx\n")
    settings = load_config(path, environ={})
    assert settings.source_paths == [tmp_path / "news"]
    assert settings.index_path == tmp_path / "idx"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("answer:\n  max_quotes: banyak\n", "answer.max_quotes"),
        ("answer:\n  colour: red\n", "answer.colour: unknown key"),
        ("modle:\n  name: x\n", "modle: unknown key"),
        ("retrieval: [1, 2]\n", "retrieval"),
        ("answer: {max_quotes: 3\n", "c.yaml"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert "c.yaml" in message
    assert expected in message
    assert "\n" not in message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "TANYA_INDEX_DIR": "/srv/idx",
        "TANYA_RETRIEVAL__DENSE_WEIGHT": "0.2",
        "TANYA_TELEGRAM__ADMINS": "[1, 2]",
        "TANYA_MODEL__NAME": "123",
    }
    settings = load_config(None, environ=env)
    assert settings.index_path == Path("/srv/idx")
    assert settings.retrieval.dense_weight == 0.2
    assert settings.telegram.admins == [1, 2]
    assert settings.model.name == "123"


def test_bad_environment_override_names_the_key() -> None:
    with pytest.raises(ConfigError, match="answer.max_quotes"):
        load_config(None, environ={"TANYA_ANSWER__MAX_QUOTES": "lots"})
