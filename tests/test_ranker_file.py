"""retrieval.ranker_file: models fitted for another embedding model replace the shipped ones everywhere."""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

import pytest
from conftest import EXAMPLES, make_app
from test_cli import assert_user_error, tanya

from tanya.errors import ConfigError
from tanya.ranking import load_ranker

QUESTION = ("Siapa yang hadir dalam penandatanganan MoU antara Pemerintah Kota Batu Merah dan "
            "Universitas Teluk Nusantara?")


def shipped() -> dict:
    return json.loads(resources.files("tanya").joinpath("data", "ranker.json").read_text(encoding="utf-8"))


def write_ranker(path: Path, **changes: object) -> Path:
    path.write_text(json.dumps({**shipped(), **changes}), encoding="utf-8")
    return path


def test_the_ranker_file_answers_ranks_and_is_recorded(tmp_path: Path) -> None:
    plain = make_app(tmp_path / "plain")
    plain.build([EXAMPLES])
    assert plain.ask(QUESTION).answered
    first = [c.chunk_id for c in plain.retrieve(QUESTION).candidates[:3]]

    # The shipped models with a threshold nothing passes: the answer is declined.
    declining = make_app(
        tmp_path / "declining",
        retrieval={"ranker_file": str(write_ranker(tmp_path / "declining.json", version="other-1", min_score=1.0))},
    )
    declining.build([EXAMPLES])
    assert [c.chunk_id for c in declining.retrieve(QUESTION).candidates[:3]] == first
    assert not declining.ask(QUESTION).answered
    manifest = json.loads((tmp_path / "declining" / "index" / "manifest.json").read_text())
    assert manifest["ranker"]["version"] == "other-1"

    # The chunk models turned round: the candidates come in another order.
    data = shipped()
    turned = {name: {**data[name], "coef": [-c for c in data[name]["coef"]]} for name in ("chunk", "chunk_order")}
    app = make_app(tmp_path / "turned", retrieval={"ranker_file": str(write_ranker(tmp_path / "t.json", **turned))})
    app.build([EXAMPLES])
    assert [c.chunk_id for c in app.retrieve(QUESTION).candidates[:3]] != first


def test_a_ranker_fitted_for_another_model_is_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ranker_file = write_ranker(tmp_path / "e5.json", model="intfloat/multilingual-e5-small (fitted)")
    app = make_app(tmp_path, retrieval={"ranker_file": str(ranker_file)})
    with caplog.at_level(logging.WARNING, logger="tanya"):
        app.build([EXAMPLES])
        app.ask(QUESTION)
    said = [r.getMessage() for r in caplog.records if "was fitted for model" in r.getMessage()]
    assert len(said) == 1
    assert "'intfloat/multilingual-e5-small'" in said[0] and "'bundled'" in said[0]

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tanya"):
        make_app(tmp_path / "shipped").ranker  # noqa: B018 - the shipped ranker was fitted for "bundled"
    assert not caplog.records


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "Expecting property name"),
        (json.dumps({"version": "x"}), "no 'bm25'"),
        (json.dumps({**shipped(), "chunk": {**shipped()["chunk"], "features": ["bm25_rel"]}}), "layout"),
        ("[1, 2]", "layout"),
    ],
)
def test_a_broken_ranker_file_is_a_one_line_error(tmp_path: Path, content: str, said: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_ranker(path)
    message = str(caught.value)
    assert "retrieval.ranker_file" in message and str(path) in message and said in message
    assert "\n" not in message


def test_the_cli_says_a_missing_ranker_file_before_loading_anything(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("retrieval:\n  ranker_file: rankers/missing.json\n")
    result = tanya("--config", str(config), "--index", str(tmp_path / "i"), "ask", "Siapa yang hadir?")
    # resolved from the config file's folder, like every path in it
    assert_user_error(result, "retrieval.ranker_file", str(tmp_path / "rankers" / "missing.json"))
