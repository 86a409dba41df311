"""The bundled model with tanya's top layers tuned on Indonesian questions, as a model folder in the user's cache.

all-MiniLM-L6-v2 is English. bench/fit_model.py tunes its top transformer layers on the QA sets' training
questions (question -> passage) and writes them (float16, about 10 MB) to `model.tuned_layers`, by default
~/.cache/tanya/tuned-layers.npz: model weights are not kept in git. Here they replace the bundled model's own
in a copy of its folder. Everything downstream (tokenizer, sentence-transformers, the traced question
pipeline, the ONNX export) then sees an ordinary local model.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

from tanya.errors import ModelLoadError

WEIGHTS = "model.safetensors"
FIT_COMMAND = "python bench/fit_model.py --all --layers 3 --steps 450 --out"


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tanya"


def layers_path(configured: str = "") -> Path:
    """Where the tuned layers are read from: `model.tuned_layers`, else the user's cache."""
    return Path(configured).expanduser() if configured else cache_root() / "tuned-layers.npz"


def tuned_identity(layers: Path) -> str:
    """A short fingerprint of the tuned layers: indexes record it, so other layers are never mixed in."""
    try:
        return hashlib.blake2b(layers.read_bytes(), digest_size=6).hexdigest()
    except OSError as exc:
        raise ModelLoadError(
            f"{layers}: the tuned layers are missing ({exc.strerror}); make them with: {FIT_COMMAND} {layers}"
        ) from None


def tuned_model_path(base: str, layers: Path, cache: Path | None = None) -> str:
    """The folder of `base` with the tuned layers in place, made once (about 90 MB) and reused."""
    identity = tuned_identity(layers)
    root = cache or cache_root() / "models"
    folder = root / f"{Path(base).name}-tuned-{identity}"
    if (folder / WEIGHTS).is_file():
        return str(folder)
    if not (Path(base) / WEIGHTS).is_file():
        raise ModelLoadError(f"{base}: no {WEIGHTS} to put the tuned layers into")
    from safetensors.numpy import load_file, save_file

    tmp = root / f".{folder.name}.{os.getpid()}.tmp"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(base, tmp, ignore=shutil.ignore_patterns(WEIGHTS, "*.bin", "*.onnx"))
        weights = load_file(str(Path(base) / WEIGHTS))
        with np.load(layers) as tuned:
            unknown = [name for name in tuned.files if name not in weights]
            if unknown:
                raise ModelLoadError(f"{layers}: {len(unknown)} arrays the model does not have, e.g. {unknown[0]}")
            for name in tuned.files:
                if tuned[name].shape != weights[name].shape:
                    raise ModelLoadError(f"{layers}: {name} has shape {tuned[name].shape}, the model's is "
                                         f"{weights[name].shape}")
                weights[name] = tuned[name].astype(weights[name].dtype)
        save_file(weights, str(tmp / WEIGHTS), metadata={"format": "pt"})
        try:
            os.replace(tmp, folder)
        except OSError:  # another process made it first
            if not (folder / WEIGHTS).is_file():
                raise
    except OSError as exc:
        raise ModelLoadError(f"cannot write the tuned model to {root}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(folder)
