"""bot.text: the one analysis of words that search, alerts and digest keywords share."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import similar as similar_module
from bot import text as text_module
from bot.models import Snippet
from bot.similar import _hash as similar_hash
from bot.text import analyze, analyze_words, analyzed, plain_words, snippet, stem, words


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("model", "models"),
        ("model", "modeling"),
        ("diffusion", "diffusing"),
        ("diffusion", "diffused"),
        ("transformer", "Transformers"),
        ("study", "studies"),
        ("generalization", "generalize"),
        ("LLM", "LLMs"),  # acronym plurals, which Snowball alone keeps apart
        ("GPU", "gpus"),
        ("CNN", "CNNs"),
        ("1990", "1990s"),
        ("naive", "naïve"),  # accents go
        ("cafe", "CAFÉ"),
        ("naive", "nai\u0308ve"),  # a decomposed accent too
        ("istanbul", "İstanbul"),  # and the dot of a Turkish capital I
        ("fine", "ﬁne"),  # ligatures open up
    ],
)
def test_forms_of_a_word_analyse_alike(one: str, other: str) -> None:
    assert analyze(one) == analyze(other)
    assert len(analyze(one)) == 1


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("diffusion", "diff"),
        ("model", "mode"),
        ("news", "new"),
        ("gas", "ga"),
        ("grokking", "grok"),
        ("3d", "3"),
    ],
)
def test_different_words_stay_apart(one: str, other: str) -> None:
    assert analyze(one) != analyze(other)


def test_digits_and_mixed_scripts() -> None:
    assert analyze("GPT4 and GPT-4 in 3D") == ["gpt4", "and", "gpt", "4", "in", "3d"]
    assert analyze("x² ½") == ["x2", "1", "2"]  # compatibility forms, split as they read
    assert analyze("Ελληνικά 中文模型 Кириллица") == ["ελληνικα", "中文模型", "кириллица"]
    assert analyze("snake_case c++ it's") == ["snake", "case", "c", "it", "s"]


def test_words_split_as_typed_and_analysis_follows_them() -> None:
    raw = "Naïve Diffusion-Models, LLMs!"
    assert words(raw) == ["naïve", "diffusion", "models", "llms"]
    assert plain_words(raw) == ["naive", "diffusion", "models", "llms"]
    assert analyze(raw) == list(analyze_words(words(raw))) == ["naiv", "diffus", "model", "llm"]


def test_a_word_of_marks_alone_analyses_to_nothing() -> None:
    assert analyze("\u037a") == []  # GREEK YPOGEGRAMMENI: a letter that is only a mark
    assert analyze_words(["\u037a"]) == ()


def test_stems_are_interned_and_cached() -> None:
    assert stem("models") is stem("".join(["mod", "els"]))


def test_the_word_caches_stay_bounded_when_every_stored_paper_is_read() -> None:
    # The similarity index's build analyses every stored paper: tens of thousands of words.
    words = [f"zqx{n}words" for n in range(60_000)]
    for word in words:
        stem(word)
        similar_hash(word)
    assert len(text_module._stems) <= 50_001
    assert len(similar_module._hashes) <= 50_001
    assert stem(words[-1]) == "zqx59999word"


def test_analysis_is_the_same_whatever_the_caches_hold() -> None:
    text = "Naïve LLMs, GPUs: diffusing models ﬁne-tuned in the 1990s; qzvwords zqvmodels qzvwords"
    expected = [text_module._stem(w) for w in plain_words(text)]
    text_module._stems.clear()
    assert analyze(text) == expected  # every word new
    assert analyze(text) == expected  # every word cached
    for word in ("qzvwords", "gpus", "naive"):
        del text_module._stems[word]
    assert analyze(text) == expected  # some cached, some not, in any order


@pytest.mark.parametrize(
    "text",
    [
        "Diffusing models, fine-tuned in the 1990s: LLMs and GPUs qzvwords zqvmodels",
        "Naïve LLMs, GPUs: ﬁne-tuned İstanbul cafés",  # not ASCII: the plain path
        "",
        "  -- ;; ",
    ],
)
def test_the_joined_analysis_is_the_analysis_joined_whatever_the_cache_holds(text: str) -> None:
    expected = " ".join(text_module._stem(w) for w in plain_words(text))
    text_module._stems.clear()
    assert analyzed(text) == expected  # every word new
    assert analyzed(text) == expected  # every word cached
    for word in ("qzvwords", "gpus", "diffusing"):
        text_module._stems.pop(word, None)
    assert analyzed(text) == expected  # some cached, some not


def test_the_stemmer_keeps_no_cache_of_its_own() -> None:
    # Its purge, each time its 10,000 words fill, cost more than the stemming (bot.text
    # keeps every stem itself).
    assert text_module._STEMMER.maxCacheSize == 0


def test_a_snippet_starts_at_the_sentence_and_highlights_every_form() -> None:
    abstract = (
        "Scaling is hard. We propose that diffusing models beat GANs; diffusion wins on "
        "ImageNet and many other benchmarks that we list here, which is a long sentence."
    )
    cut = snippet(abstract, frozenset(analyze("diffusion")))
    assert cut.text == (
        "…We propose that diffusing models beat GANs; diffusion wins on ImageNet and many other…"
    )
    assert [cut.text[a:b] for a, b in cut.spans] == ["diffusing", "diffusion"]


def test_a_snippet_deep_in_a_sentence_keeps_a_few_words_before() -> None:
    abstract = " ".join(f"w{i}" for i in range(40)) + " grokking " + "tail " * 20
    cut = snippet(abstract, frozenset(analyze("grokking")))
    assert cut.text.startswith("…w33 w34 w35 w36 w37 w38 w39 grokking tail")
    assert cut.text.endswith("…")
    assert [cut.text[a:b] for a, b in cut.spans] == ["grokking"]


def test_a_snippet_without_a_match_is_the_start_on_one_line() -> None:
    cut = snippet("Short\n  abstract,\twrapped.", frozenset({"zzz"}))
    assert cut == Snippet("Short abstract, wrapped", ())
    assert snippet("", frozenset({"x"})) == Snippet()


def test_a_text_with_new_words_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A day of new papers has a new word in most abstracts: its words are split and looked
    # up once, the new ones stemmed as they come (was: a failed pass over the cached stems,
    # then the whole analysis again).
    text = "Diffusing models, fine-tuned in the 1990s: LLMs and GPUs qzvnewwords"
    expected = " ".join(text_module._stem(w) for w in plain_words(text))
    text_module._stems.pop("qzvnewwords", None)
    calls: list[str] = []
    split = text_module.words

    def counted(text: str) -> list[str]:
        calls.append(text)
        return split(text)

    monkeypatch.setattr(text_module, "words", counted)
    assert analyzed(text) == expected
    assert calls == [text]


def test_a_full_stem_cache_is_emptied_and_the_new_word_kept() -> None:
    text_module._stems.clear()
    text_module._stems.update((f"qzv{n}", f"qzv{n}") for n in range(text_module._CACHE_LIMIT + 1))
    assert stem("qzvmodels") == "qzvmodel"
    assert dict(text_module._stems) == {"qzvmodels": "qzvmodel"}
    text_module._stems.clear()


@pytest.mark.parametrize(
    "text",
    [
        "Naïve LLMs, GPUs: ﬁne-tuned İstanbul cafés Ω_2 ∂x/∂t — x×y",  # composed by NFC
        "nai\u0308ve cafe\u0301 q\u0301z a\u0300\u0301b",  # accents left after NFC
        "\u037a x\u0345y",
    ],
)
def test_non_ascii_words_are_split_alike_with_or_without_combining_accents(text: str) -> None:
    import unicodedata

    folded = unicodedata.normalize("NFC", text).casefold()
    assert words(text) == text_module._WORD_MARKED.findall(folded)


def test_non_ascii_text_without_combining_accents_skips_the_slower_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refuses:
        def findall(self, text: str) -> list[str]:
            raise AssertionError("the pattern with accents was used")

    monkeypatch.setattr(text_module, "_WORD_MARKED", Refuses())
    assert words("∂x/∂t — Ω_2 café") == ["x", "t", "ω", "2", "café"]


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40))
@settings(max_examples=300, deadline=None)
def test_words_are_those_of_the_pattern_with_accents(text: str) -> None:
    import unicodedata

    if not text.isascii():
        folded = unicodedata.normalize("NFC", text).casefold()
        assert words(text) == text_module._WORD_MARKED.findall(folded)


_MOSTLY_ASCII = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcXYZ 019.,-_'\n"),
        st.sampled_from("—’“”…\u00a0\u2009\u3000\u037e\u0387\u1fef\u2126\u212b·éİß½²\u0301ﬁ"),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=40,
)


@given(_MOSTLY_ASCII)
@settings(max_examples=3000, deadline=None)
def test_words_and_plain_words_are_those_of_the_pattern_with_accents(text: str) -> None:
    import unicodedata

    folded = unicodedata.normalize("NFC", text).casefold()
    found = text_module._WORD_MARKED.findall(folded)
    assert words(text) == found
    assert plain_words(text) == [p for t in found for p in text_module.plain(t)]


def test_a_text_whose_only_non_ascii_characters_separate_is_read_as_ascii(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refuses:
        def findall(self, text: str) -> list[str]:
            raise AssertionError("a pattern was used")

    monkeypatch.setattr(text_module, "_WORD_MARKED", Refuses())
    monkeypatch.setattr(text_module, "_WORD", Refuses())
    text = "LLMs’ “zero-shot” gains — 2× faster…\u00a0Done"
    assert words(text) == ["llms", "zero", "shot", "gains", "2", "faster", "done"]
    assert plain_words(text) == words(text)
