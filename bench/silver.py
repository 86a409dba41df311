"""Silver training questions for the sentence model: "who attended" and "what was agreed" over IndoSum.

The QA sets hold almost no questions of the two kinds tanya's users ask most about meetings, so the sentence
model learns little about attendee lists and agreements from them. Here each IndoSum article with a sentence
that names two or more people beside an attendance word, or states an agreement, becomes one question asked
about the article's topic (its title), with that sentence as the answer. Articles that bench/data's
whole-article questions (and the development set's) are about are left out, so those stay unseen by fitting.
"""

from __future__ import annotations

import json
import random
import re

from qa_sets import WHOLE_ARTICLES, WHOLE_ARTICLES_DEV, Question, shared_data

from tanya.chunking import split_sentences
from tanya.signals import person_names

PER_KIND = 400  # questions of each kind at most
# Narrower than tanya's own signals.ATTENDANCE / AGREEMENT: silver labels should rarely be wrong.
_ATTENDED = re.compile(r"\b(?:hadir|dihadiri|menghadiri|didampingi|bertemu|menemui)\b", re.IGNORECASE)
_AGREED = re.compile(r"\b(?:sepakat|menyepakati|disepakati|kesepakatan|menandatangani|ditandatangani|"
                     r"nota kesepahaman|MoU)\b", re.IGNORECASE)


def silver_questions(seed: int = 0) -> list[Question]:
    """Questions with one sentence of their article as the answer (kinds: siapa/hadir, apa/sepakat)."""
    excluded = {
        json.loads(line)["article_id"]
        for path in (WHOLE_ARTICLES, WHOLE_ARTICLES_DEV) if path.is_file()
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    attended: list[Question] = []
    agreed: list[Question] = []
    path = shared_data() / "indosum" / "articles.jsonl"
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            article = json.loads(line)
            if article["id"] in excluded or not article.get("title"):
                continue
            topic = article["title"].strip().rstrip(".")
            spans = split_sentences(article["text"])
            for number, span in enumerate(spans[1:], start=1):  # the lead sentence is what the model over-picks
                sentence = article["text"][span.start : span.end]
                if not 8 <= len(sentence.split()) <= 60:
                    continue
                if _ATTENDED.search(sentence) and len(person_names(sentence)) >= 2:
                    question = f"Siapa saja yang hadir dalam {topic}?"
                    attended.append(Question(f"silver-hadir-{article['id']}-{number}", question, (sentence,),
                                             article["id"], "siapa", False))
                    break
                if _AGREED.search(sentence):
                    question = f"Apa yang disepakati dalam {topic}?"
                    agreed.append(Question(f"silver-sepakat-{article['id']}-{number}", question, (sentence,),
                                           article["id"], "apa", False))
                    break
    rng = random.Random(seed)
    rng.shuffle(attended)
    rng.shuffle(agreed)
    return attended[:PER_KIND] + agreed[:PER_KIND]


if __name__ == "__main__":
    questions = silver_questions()
    print(len(questions), "silver questions")
    for question in questions[:3] + questions[-3:]:
        print(question.question, "->", question.answers[0][:160])
