"""bench/fit_ranker.py's word weights: what the meeting model learns from a sentence's own words."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import fit_ranker  # noqa: E402

from tanya.ranking import SENTENCE_FEATURES, WordWeights  # noqa: E402


def test_word_features_leave_out_the_questions_words_and_name_the_kind() -> None:
    question = "Siapa yang hadir dalam rapat itu?"
    assert fit_ranker.word_features(question, "siapa", frozenset({"turut", "hadir", "rapat"})) == [
        "*:turut",
        "siapa:turut",
    ]
    assert fit_ranker.word_features("Apa yang disepakati?", "apa", frozenset({"akan"})) == ["*:akan", "other:akan"]


def test_a_word_that_marks_the_answer_sentence_gets_the_weight() -> None:
    # 60 questions of 6 sentences each: the feature columns are noise, and the answer sentence of a siapa
    # question has "turut", of an apa question "akan"; "jarang" marks it too but is in fewer sentences than
    # MEETING_MIN_COUNT, and every sentence has "dan".
    rng = np.random.default_rng(0)
    rows, labels, groups, words = [], [], [], []
    for group in range(60):
        kind = "siapa" if group % 2 else "other"
        marker = "turut" if kind == "siapa" else "akan"
        for sentence in range(6):
            answer = sentence == group % 6
            own = {"dan", *({marker} if answer else set()), *({"jarang"} if answer and group < 2 else set())}
            rows.append(rng.normal(size=len(SENTENCE_FEATURES)))
            labels.append(1 if answer else 0)
            groups.append(group)
            words.append([*(f"*:{w}" for w in sorted(own)), *(f"{kind}:{w}" for w in sorted(own))])
    model, weights = fit_ranker.fit_pairwise_words(np.array(rows), words, np.array(labels), np.array(groups))
    assert isinstance(weights, WordWeights) and model.features == SENTENCE_FEATURES
    assert weights.siapa["turut"] > 0.5 and weights.other["akan"] > 0.5
    # each marker counts for its own kind of question most
    assert weights.siapa["turut"] > weights.other.get("turut", 0.0)
    assert weights.other["akan"] > weights.siapa.get("akan", 0.0)
    assert "jarang" not in weights.siapa and "jarang" not in weights.other
    assert abs(weights.siapa.get("dan", 0.0)) < 0.1  # in every sentence: tells nothing
