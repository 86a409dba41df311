"""The tuned model folder: the shipped layers replace the base model's own, once, in the user's cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tanya.config import ModelSettings
from tanya.embedding import SentenceTransformerEmbedder
from tanya.errors import ModelLoadError
from tanya.tuned import WEIGHTS, layers_path, tuned_identity, tuned_model_path


def base_model(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text("{}")
    save_file(
        {"encoder.layer.0.w": np.zeros((2, 3), np.float32), "encoder.layer.1.w": np.zeros((2, 3), np.float32)},
        str(folder / WEIGHTS),
    )
    return folder


def test_the_tuned_layers_replace_the_base_models_and_the_rest_is_copied(tmp_path: Path) -> None:
    base = base_model(tmp_path / "all-MiniLM-L6-v2")
    layers = tmp_path / "layers.npz"
    np.savez(layers, **{"encoder.layer.1.w": np.full((2, 3), 0.5, np.float16)})
    made = Path(tuned_model_path(str(base), layers, tmp_path / "cache"))
    assert made.name == f"all-MiniLM-L6-v2-tuned-{tuned_identity(layers)}"
    weights = load_file(str(made / WEIGHTS))
    assert weights["encoder.layer.1.w"].dtype == np.float32 and np.all(weights["encoder.layer.1.w"] == 0.5)
    assert np.all(weights["encoder.layer.0.w"] == 0)  # the frozen layers are the base model's
    assert (made / "1_Pooling" / "config.json").is_file()
    assert np.all(load_file(str(base / WEIGHTS))["encoder.layer.1.w"] == 0)  # the base model is untouched
    stamp = (made / WEIGHTS).stat().st_mtime_ns
    assert Path(tuned_model_path(str(base), layers, tmp_path / "cache")) == made  # made once, then reused
    assert (made / WEIGHTS).stat().st_mtime_ns == stamp
    # Other layers make another folder (and another identity for the index manifest).
    np.savez(layers, **{"encoder.layer.1.w": np.full((2, 3), 0.25, np.float16)})
    assert Path(tuned_model_path(str(base), layers, tmp_path / "cache")) != made


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"encoder.layer.9.w": np.zeros((2, 3), np.float16)}, "arrays the model does not have"),
        ({"encoder.layer.1.w": np.zeros((3, 2), np.float16)}, "has shape"),
    ],
)
def test_layers_that_do_not_fit_the_model_are_refused(tmp_path: Path, arrays: dict, message: str) -> None:
    base = base_model(tmp_path / "model")
    layers = tmp_path / "layers.npz"
    np.savez(layers, **arrays)
    with pytest.raises(ModelLoadError, match=message):
        tuned_model_path(str(base), layers, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-made is left


def test_missing_layers_are_a_clear_error_naming_the_command_that_makes_them(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="tuned layers are missing.*bench/fit_model.py --all"):
        tuned_identity(tmp_path / "nowhere.npz")
    settings = ModelSettings(name="bundled-tuned", tuned_layers=str(tmp_path / "nowhere.npz"))
    with pytest.raises(ModelLoadError, match="nowhere.npz"):
        SentenceTransformerEmbedder(settings)


def test_the_layers_are_read_from_the_setting_or_the_users_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert layers_path() == tmp_path / "tanya" / "tuned-layers.npz"
    assert layers_path(str(tmp_path / "mine.npz")) == tmp_path / "mine.npz"
