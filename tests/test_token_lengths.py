"""The token-length cache: exact counts, found by content only, safe against bad files."""

from __future__ import annotations

import json
import logging

import pytest
from transformers import AutoTokenizer

from harness_tasks import token_lengths as tl


@pytest.fixture
def tokenizer(tiny_causal_lm_dir):
    return AutoTokenizer.from_pretrained(tiny_causal_lm_dir)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(tl.CACHE_ENV, str(tmp_path))
    return tmp_path / "token_lengths"


def direct(tokenizer, texts, specials=True):
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=specials)["input_ids"]]


TEXTS = [
    '<tool_call>\n{"name": "ls"}\n</tool_call>',
    "Could you tell me the number?",
    "x" * 300,
    "ß ü 💡",
]


def test_counts_equal_the_tokenizer_and_are_served_by_content(tokenizer, cache_dir):
    texts = [*TEXTS, TEXTS[1]]  # a duplicate is counted once and answered twice
    assert tl.token_lengths(tokenizer, texts) == direct(tokenizer, texts)
    (path,) = cache_dir.glob("*.json")
    stored = json.loads(path.read_text())
    assert len(stored["lengths"]) == len(TEXTS)
    # served from the file, by the text's digest, whatever the order: a planted value comes back
    stored["lengths"][tl.text_key(TEXTS[2])] = 9999
    path.write_text(json.dumps(stored))
    assert tl.token_lengths(tokenizer, [TEXTS[2], TEXTS[0]]) == [9999, direct(tokenizer, [TEXTS[0]])[0]]
    # a changed text misses and is counted
    changed = TEXTS[2] + "y"
    assert tl.token_lengths(tokenizer, [changed]) == direct(tokenizer, [changed])


def test_special_tokens_setting_and_tokenizer_choose_the_file(tokenizer, cache_dir):
    with_specials = tl.token_lengths(tokenizer, TEXTS, add_special_tokens=True)
    without = tl.token_lengths(tokenizer, TEXTS, add_special_tokens=False)
    assert without == direct(tokenizer, TEXTS, specials=False) and with_specials == direct(tokenizer, TEXTS)
    assert len(list(cache_dir.glob("*.json"))) == 2
    assert tl.tokenizer_digest(tokenizer, True) != tl.tokenizer_digest(tokenizer, False)


def test_unreadable_file_is_recounted_and_rewritten(tokenizer, cache_dir, caplog):
    tl.token_lengths(tokenizer, TEXTS)
    (path,) = cache_dir.glob("*.json")
    path.write_text('{"format": 1, "lengths": {"ab')  # torn by a crash of some other writer
    with caplog.at_level(logging.WARNING):
        assert tl.token_lengths(tokenizer, TEXTS) == direct(tokenizer, TEXTS)
    assert "unreadable" in caplog.text
    assert len(json.loads(path.read_text())["lengths"]) == len(TEXTS)
    assert not list(cache_dir.glob("*.tmp"))


def test_empty_setting_switches_the_cache_off(tokenizer, tmp_path, monkeypatch):
    monkeypatch.setenv(tl.CACHE_ENV, "")
    assert tl.token_lengths(tokenizer, TEXTS) == direct(tokenizer, TEXTS)
    assert tl.cache_root() is None and not list(tmp_path.rglob("*.json"))
