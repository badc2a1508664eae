"""Item categories: config rules (names, aliases, keywords) and their check, explicit markers and name lookup."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

from bot.bounded import shown
from bot.checking import Checker, join, kind
from bot.digest.model import Digest, Item
from bot.text.scripts import Script, char_class

__all__ = ["RULE_KEYS", "Categorizer", "CategoryRule", "check_categories", "name_key", "naming_problems", "normalize",
           "rules_from_mapping"]


@dataclasses.dataclass(frozen=True, slots=True)
class CategoryRule:
    name: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


RULE_KEYS = ("aliases", "keywords")

# Letters and digits of scripts that separate words with spaces: a keyword made of them only
# matches a whole word ("chip" not in "chipotle", "AI" not in "maintain"). Han and kana have no
# word separators, so keywords in them match anywhere ("芯片" in "自研芯片").
_WORD_CHARS = "0-9A-Za-z_" + char_class(Script.SPACED_LETTER)
_WORD_CHAR = re.compile(f"[{_WORD_CHARS}]")


def normalize(text: str) -> str:
    """How text is compared: NFKC (full-width Ｇ → G), case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def name_key(name: str) -> str:
    """A category name as looked up: also blind to spaces, hyphens and underscores, so
    `/category large_models` and `/category large-models` find "Large Models".

    Two names clash exactly when their keys are equal; the config check and the lookup both ask here.
    """
    return re.sub(r"[\s_\-]+", "", normalize(name))


def naming_problems(words: Iterable[tuple[str, str, str]],
                    show: Callable[[object], str] = shown) -> list[tuple[str, str]]:
    """(where, why) for every name or alias that cannot select its category.

    `words` are (where, word, category) in config order, each category's own name first: a word
    nobody can type (only spaces, hyphens, underscores), one with a control character, or one that
    already selects another category.
    """
    owners: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for where, word, category in words:
        key = name_key(word)
        if not key:
            problems.append((where, f"{show(word)} has no letter or digit, so nobody could type it"))
            continue
        if any(unicodedata.category(character) == "Cc" for character in word):
            # It is shown in chats and terminals, where a control character could restyle or hide text.
            problems.append((where, f"{show(word)} contains a control character"))
            continue
        owner = owners.setdefault(key, category)
        if owner != category:
            problems.append((where, f"{show(word)} already names category {show(owner)}"))
    return problems


def _keyword_pattern(keyword: str) -> str:
    text = normalize(keyword)
    pattern = re.escape(text)
    if _WORD_CHAR.match(text[0]):
        pattern = f"(?<![{_WORD_CHARS}])" + pattern
    if _WORD_CHAR.match(text[-1]):
        # A plain plural still counts: "chip" matches "chips", "GPU" matches "GPUs".
        pattern += f"(?:e?s)?(?![{_WORD_CHARS}])"
    return pattern


def _string_list(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        raise ValueError(f"{where}: expected a list of strings like [a, b], got a single string {shown(value)}")
    if not isinstance(value, list | tuple):
        raise ValueError(f"{where}: expected a list of strings, got {type(value).__name__}")
    out: list[str] = []
    for index, element in enumerate(value):
        if not isinstance(element, str) or not element.strip():
            raise ValueError(f"{where}[{index}]: expected a non-empty string, got {shown(element)}")
        out.append(element.strip())
    return tuple(out)


def rules_from_mapping(mapping: object) -> tuple[CategoryRule, ...]:
    """The config's `categories:` mapping (Name → {aliases: [...], keywords: [...]}) as rules.

    Raises ValueError naming the offending entry, relative to the mapping, e.g. `Hardware.keywords[2]: …`.
    """
    if mapping is None:
        return ()
    if not isinstance(mapping, Mapping):
        raise ValueError("expected a mapping of Name: {aliases: [...], keywords: [...]}, "
                         f"got {type(mapping).__name__}")
    rules: list[CategoryRule] = []
    words: list[tuple[str, str, str]] = []
    for name, body in mapping.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{shown(name)}: a category name must be a non-empty string")
        name = " ".join(name.split())
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise ValueError(f"{name}: expected {{aliases: [...], keywords: [...]}}, got {type(body).__name__}")
        unknown = [key for key in body if key not in RULE_KEYS]
        if unknown:
            raise ValueError(f"{name}: unknown key {shown(unknown[0])} (a category has aliases and keywords)")
        aliases = _string_list(body.get("aliases"), f"{name}.aliases")
        keywords = _string_list(body.get("keywords"), f"{name}.keywords")
        words += [(name, name, name)] + [(f"{name}.aliases[{index}]", alias, name)
                                         for index, alias in enumerate(aliases)]
        rules.append(CategoryRule(name=name, aliases=aliases, keywords=keywords))
    for where, why in naming_problems(words)[:1]:
        raise ValueError(f"{where}: {why}")
    return tuple(rules)


def check_categories(check: Checker, raw: object) -> tuple[CategoryRule, ...]:
    """The `categories:` section as rules, every problem added to `check` (no rules after one)."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        check.add("categories", f"expected a mapping of Name: {{aliases: [...], keywords: [...]}}, got {kind(raw)}")
        return ()
    before = len(check.problems)
    cleaned: dict[str, dict[str, list[str]]] = {}
    words: list[tuple[str, str, str]] = []     # (key path, name or alias, its category)
    for name, body in raw.items():
        path = join("categories", name)
        if not isinstance(name, str) or not name.strip():
            check.add(path, "a category name must be a non-empty string")
            continue
        section = check.section(body, path, RULE_KEYS)
        aliases = check.string_list(section.get("aliases"), join(path, "aliases"))
        keywords = check.string_list(section.get("keywords"), join(path, "keywords"))
        words += [(path, name, name), *((f"{path}.aliases[{index}]", alias, name)
                                        for index, alias in enumerate(aliases))]
        cleaned[name] = {"aliases": list(aliases), "keywords": list(keywords)}
    # Names clash exactly when the lookup behind /category could not tell them apart.
    for where, why in naming_problems(words, check.show):
        check.add(where, why)
    if len(check.problems) > before:
        return ()
    try:
        return rules_from_mapping(cleaned)
    except ValueError as exc:
        check.add("categories", str(exc))
        return ()


class Categorizer:
    """Assigns categories to items and resolves the names people type (`/category 硬件`)."""

    def __init__(self, rules: Iterable[CategoryRule]) -> None:
        self.rules: tuple[CategoryRule, ...] = tuple(rules)
        self._names: dict[str, str] = {}
        self._order: dict[str, int] = {}
        self._matchers: list[tuple[str, re.Pattern[str]]] = []
        for position, rule in enumerate(self.rules):
            self._order[rule.name] = position
            for word in (rule.name, *rule.aliases):
                self._names.setdefault(name_key(word), rule.name)
            keywords = [keyword for keyword in rule.keywords if normalize(keyword)]
            if keywords:
                # Longest first, so an alternation never stops at a shorter keyword's prefix.
                alternatives = sorted((_keyword_pattern(keyword) for keyword in keywords), key=len, reverse=True)
                self._matchers.append((rule.name, re.compile("|".join(alternatives))))

    # -- lookup -------------------------------------------------------------------------------

    def resolve(self, name: str, digest: Digest | None = None) -> str | None:
        """The canonical name a person means: a config name or alias (any case, full- or half-width),
        else a category the digest itself names (front matter or item markers); None if unknown."""
        key = name_key(name)
        if not key:
            return None
        if key in self._names:
            return self._names[key]
        if digest is not None:
            for candidate in self._digest_names(digest):
                if name_key(candidate) == key:
                    return candidate
        return None

    def known(self, digest: Digest | None = None) -> list[str]:
        """Every category name: the config's in its order, then any more the digest names."""
        names = [rule.name for rule in self.rules]
        if digest is not None:
            seen = {name_key(name) for name in names}
            for candidate in self._digest_names(digest):
                canonical = self._names.get(name_key(candidate))
                if canonical is None and name_key(candidate) not in seen:
                    seen.add(name_key(candidate))
                    names.append(candidate)
        return names

    def items_in(self, category: str, digest: Digest) -> list[Item]:
        """Items of the digest in the category (by any of its names), whether or not the digest
        went through categorize() already."""
        canonical = self.resolve(category, digest)
        if canonical is None:
            return []
        key = name_key(canonical)
        return [item for item in digest.items
                if any(name_key(name) == key for name in self.item_categories(item, digest))]

    # -- assignment ---------------------------------------------------------------------------

    def item_categories(self, item: Item, digest: Digest | None = None) -> tuple[str, ...]:
        """Explicit markers (canonical names) plus every rule whose keyword occurs in the title or
        summary; config categories first in config order, then the rest as marked."""
        found: dict[str, None] = {}
        for marker in item.categories:
            found.setdefault(self.resolve(marker, digest) or marker, None)
        if self._matchers:
            haystack = normalize(item.title + "\n" + item.summary_text)
            for name, pattern in self._matchers:
                if pattern.search(haystack):
                    found.setdefault(name, None)
        configured = sorted((name for name in found if name in self._order), key=self._order.__getitem__)
        others = [name for name in found if name not in self._order]
        return tuple(configured + others)

    def categorize(self, digest: Digest) -> Digest:
        """The digest with each item's categories filled in (idempotent)."""
        items = tuple(dataclasses.replace(item, categories=self.item_categories(item, digest))
                      for item in digest.items)
        return dataclasses.replace(digest, items=items)

    @staticmethod
    def _digest_names(digest: Digest) -> Sequence[str]:
        names: dict[str, None] = dict.fromkeys(digest.categories)
        for item in digest.items:
            names.update(dict.fromkeys(item.categories))
        return list(names)


def only_categories(digest: Digest, categories: Sequence[str]) -> Digest:
    """The digest with only the items in one of `categories` (canonical names, as categorize() set
    them), the whole digest when none are named; items keep their numbers, so `/item N` still names
    the same item."""
    if not categories:
        return digest
    wanted = {name_key(name) for name in categories}
    items = tuple(item for item in digest.items if any(name_key(name) in wanted for name in item.categories))
    return dataclasses.replace(digest, items=items)
