"""Categories: config rules, explicit markers, keyword matching and the names people type."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.config import CategoryRule
from bot.digest.categories import Categorizer, rules_from_mapping
from bot.digest.model import Digest
from bot.digest.parse import parse_digest, parse_file
from tests.conftest import EXAMPLES, ROOT, reference_digests


@pytest.fixture(scope="module")
def example_mapping() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    mapping = loaded["categories"]
    assert isinstance(mapping, dict)
    return mapping


@pytest.fixture(scope="module")
def categorizer(example_mapping: dict[str, Any]) -> Categorizer:
    return Categorizer(rules_from_mapping(example_mapping))


def make_digest(*items: str, categories: str = "[]") -> Digest:
    """items: (title, summary, optional marker line) joined by '|'."""
    lines = ["---", "title: T", "date: 2025-10-01", f"categories: {categories}", "---", ""]
    for number, spec in enumerate(items, start=1):
        title, summary, *marker = spec.split("|")
        lines += [f"{number}.  [{title}](https://news.example/{number})", ""]
        if marker:
            lines += [f"    <!-- categories: {marker[0]} -->", ""]
        lines += [f"    {summary}", ""]
    return parse_digest("\n".join(lines))


# -- rules from the config ---------------------------------------------------------------------

def test_example_config_rules(example_mapping: dict[str, Any]) -> None:
    rules = rules_from_mapping(example_mapping)
    assert [rule.name for rule in rules] == list(example_mapping)
    hardware = rules[0]
    assert hardware.name == "Hardware"
    assert {"hardware", "hw", "硬件"} <= set(hardware.aliases)
    assert {"GPU", "NPU", "SoC", "骁龙", "芯片", "处理器"} <= set(hardware.keywords)


def test_empty_or_missing_section() -> None:
    assert rules_from_mapping(None) == ()
    assert rules_from_mapping({}) == ()
    assert rules_from_mapping({"Misc": None}) == (CategoryRule("Misc"),)


@pytest.mark.parametrize(("mapping", "message"), [
    (["Hardware"], "expected a mapping"),
    ({"Hardware": ["chip"]}, "Hardware: expected {aliases"),
    ({"Hardware": {"keyword": ["chip"]}}, "Hardware: unknown key 'keyword'"),
    ({"Hardware": {"aliases": "hw"}}, "Hardware.aliases: expected a list"),
    ({"Hardware": {"keywords": ["chip", 5]}}, "Hardware.keywords[1]: expected a non-empty string"),
    ({"Hardware": {"keywords": ["chip", "  "]}}, "Hardware.keywords[1]"),
    ({"Hardware": {"aliases": {"a": 1}}}, "Hardware.aliases: expected a list of strings, got dict"),
    ({"": {}}, "a category name must be a non-empty string"),
    ({"Hardware": {"aliases": ["hw"]}, "Hard Ware": {}}, "'Hard Ware' already names category 'Hardware'"),
    ({"Hardware": {"aliases": ["hw"]}, "Chips": {"aliases": ["HW"]}},
     "Chips.aliases[0]: 'HW' already names category 'Hardware'"),
])
def test_wrong_shapes_raise_a_clear_value_error(mapping: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        rules_from_mapping(mapping)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


# -- the reference digest ----------------------------------------------------------------------

def test_reference_hardware_holds_the_chip_and_the_handset_platform(categorizer: Categorizer) -> None:
    paths = [path for path in reference_digests() if path.name == "2025-09-25.md"]
    if not paths:
        pytest.skip("the reference digest folder is not beside the repository")
    digest = categorizer.categorize(parse_file(paths[0]))
    hardware = {item.number for item in categorizer.items_in("hardware", digest)}
    assert {4, 9} <= hardware
    assert hardware == {item.number for item in categorizer.items_in("Hardware", digest)}
    assert hardware == {item.number for item in categorizer.items_in("硬件", digest)}
    for number in (4, 9):
        item = digest.item(number)
        assert item is not None and "Hardware" in item.categories


# -- name lookup -------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["Hardware", "hardware", "HARDWARE", "hw", "HW", "硬件", "ＨＷ", " hardware "])
def test_names_and_aliases_resolve_case_and_width_blind(categorizer: Categorizer, typed: str) -> None:
    assert categorizer.resolve(typed) == "Hardware"


@pytest.mark.parametrize("typed", ["Large Models", "large models", "large_models", "LARGE-MODELS", "大模型", "llm"])
def test_multiword_names_resolve_with_any_separator(categorizer: Categorizer, typed: str) -> None:
    assert categorizer.resolve(typed) == "Large Models"


def test_unknown_names_and_front_matter_names(categorizer: Categorizer) -> None:
    digest = make_digest("A|text", categories="[Hardware, Security & Policy]")
    assert categorizer.resolve("nothing") is None
    assert categorizer.resolve("") is None
    assert categorizer.resolve("security & policy") is None
    assert categorizer.resolve("security & policy", digest) == "Security & Policy"
    assert categorizer.known(digest) == ["Hardware", "Large Models", "Developer Tools", "AI Infrastructure",
                                         "Security & Policy"]
    assert categorizer.known() == ["Hardware", "Large Models", "Developer Tools", "AI Infrastructure"]


# -- assignment --------------------------------------------------------------------------------

def rules(**keywords: str) -> Categorizer:
    return Categorizer(CategoryRule(name, keywords=tuple(words.split(","))) for name, words in keywords.items())


@pytest.mark.parametrize(("keyword", "text", "matches"), [
    ("chip", "A new chip ships", True),
    ("chip", "New chips ship", True),
    ("chip", "Chipotle opens a store", False),
    ("chip", "microchip maker", False),
    ("AI", "AI labs grow", True),
    ("AI", "teams maintain old code", False),
    ("AI", "英伟达AI芯片", True),
    ("GPU", "英伟达GPU芯片", True),
    ("GPU", "rented GPUs", True),
    ("SoC", "a new ＳｏＣ", True),
    ("handset platform", "a flagship Handset  Platform", True),
    ("芯片", "自研芯片发布", True),
    ("芯", "造车造芯", True),
    ("骁龙", "第五代骁龙8至尊版", True),
    ("C++", "written in C++ today", True),
    ("C++", "written in C# today", False),
])
def test_keyword_matching(keyword: str, text: str, matches: bool) -> None:
    categorizer = rules(Hardware=keyword)
    digest = categorizer.categorize(make_digest(f"Title|{text}"))
    assert (digest.items[0].categories == ("Hardware",)) is matches


def test_keywords_match_in_titles_too(categorizer: Categorizer) -> None:
    digest = categorizer.categorize(make_digest("Snapdragon launch|nothing else here"))
    assert digest.items[0].categories == ("Hardware",)


def test_markers_resolve_to_canonical_names_and_unknown_ones_are_kept(categorizer: Categorizer) -> None:
    digest = categorizer.categorize(make_digest("A|plain words|硬件, developer tools, Policy"))
    assert digest.items[0].categories == ("Hardware", "Developer Tools", "Policy")


def test_categories_come_in_config_order(categorizer: Categorizer) -> None:
    digest = categorizer.categorize(make_digest("Datacenter GPU|large language model SDK|Developer Tools"))
    assert digest.items[0].categories == ("Hardware", "Large Models", "Developer Tools", "AI Infrastructure")


def test_categorize_is_idempotent_and_keeps_everything_else(categorizer: Categorizer) -> None:
    raw = make_digest("GPU news|text|Policy", "Quiet day|nothing")
    once = categorizer.categorize(raw)
    assert categorizer.categorize(once) == once
    assert [item.categories for item in once.items] == [("Hardware", "Policy"), ()]
    assert [(i.title, i.url, i.summary, i.line) for i in once.items] == [
        (i.title, i.url, i.summary, i.line) for i in raw.items]


def test_items_in_works_before_and_after_categorize(categorizer: Categorizer) -> None:
    raw = make_digest("GPU news|text", "Quiet day|nothing", "Policy|words|Security & Policy",
                      categories="[Security & Policy]")
    for digest in (raw, categorizer.categorize(raw)):
        assert [item.number for item in categorizer.items_in("hw", digest)] == [1]
        assert [item.number for item in categorizer.items_in("security & policy", digest)] == [3]
        assert categorizer.items_in("unknown", digest) == []


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.md")), ids=lambda path: path.name)
def test_every_example_item_marker_resolves_to_a_known_category(categorizer: Categorizer, path: object) -> None:
    digest = parse_file(str(path))
    known = categorizer.known(digest)
    markers = [marker for item in digest.items for marker in item.categories]
    assert all(categorizer.resolve(marker, digest) in known for marker in markers)


# -- the name rule check-config shares ---------------------------------------------------------

def test_naming_problems_are_the_lookups_own_comparison() -> None:
    from bot.digest.categories import name_key, naming_problems

    words = [("A", "Large Models", "Large Models"), ("A.aliases[0]", "llm", "Large Models"),
             ("B", "large_models", "large_models"), ("C", "Ｌ Ｌ Ｍ", "Chips"), ("D", "-_ -", "Dashes"),
             ("E", "Chips", "Chips"), ("F", "Red\x1b[31m", "Red")]
    assert naming_problems(words) == [
        ("B", "'large_models' already names category 'Large Models'"),
        ("C", "'Ｌ Ｌ Ｍ' already names category 'Large Models'"),
        ("D", "'-_ -' has no letter or digit, so nobody could type it"),
        ("F", "'Red\\x1b[31m' contains a control character"),
    ]
    assert name_key("Ｌ Ｌ Ｍ") == name_key("llm") == "llm"


def test_rule_errors_quote_values_in_bounded_length() -> None:
    with pytest.raises(ValueError) as caught:
        rules_from_mapping({"Hardware": {"keywords": ["chip", "x" * 5000 + " "]}, "Other": {"keywords": [[1] * 5000]}})
    assert len(str(caught.value)) < 200
