"""The bot's own words in every language it speaks (zh, en); each key exists in both with the same placeholders."""

from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# Placeholders: {p} is how a command is written on this platform ("/" on Telegram, "/digest " on
# Slack), so every hint can be pasted back as it is.
CATALOGUES: dict[str, dict[str, str]] = {
    "en": {
        "help_intro": "I post the daily news digest here and answer on demand:",
        "help_public": "Add “public” to share an answer with the whole channel.",
        "help_line": "{p}{usage} — {description}",
        "arg_item": "N",
        "arg_category": "NAME",
        "arg_date": "YYYY-MM-DD",
        "arg_subscribe": "[HH:MM [CATEGORY…]]",
        "describe_today": "today's digest",
        "describe_item": "one item of today's digest, e.g. 3",
        "describe_category": "today's items in one category",
        "describe_categories": "the categories, with today's item counts",
        "describe_date": "the digest of an earlier day",
        "describe_subscribe": "get the digest here every day (default {time})",
        "describe_unsubscribe": "stop the daily digest here",
        "describe_help": "this help",
        "list_separator": ", ",
        "none_today": "No digest for {today} yet. The latest is from {latest}: {p}date {latest}",
        "none_at_all": "No digest has been published yet.",
        "from_latest": "{text} (the latest digest; the one for {today} is not out yet)",
        "unreadable": "The digest for {date} could not be read right now. Please try again later.",
        "no_items": "The digest for {date} has no items.",
        "item_usage": "Which item? Send {p}item N, e.g. {p}item 3.",
        "item_not_number": "“{arg}” is not an item number. Send {p}item N, e.g. {p}item 3.",
        "item_out_of_range": "There are only {count} items today ({first}-{last}).",
        "item_only_one": "There is only one item today ({first}).",
        "item_heading": "Item {number} · {date}",
        "category_usage": "Which category? Send {p}category NAME. Categories: {categories}",
        "category_unknown": "There is no category “{name}”. Categories: {categories}",
        "category_empty": "No {category} items today ({date}).",
        "category_heading": "{category} · {date}",
        "categories_none": "No categories are set up.",
        "categories_today": "Categories on {date}:",
        "categories_line": "• {category}: {count}",
        "categories_known": "Categories: {categories}",
        "date_usage": "Which day? Send {p}date YYYY-MM-DD, e.g. {p}date {example}.",
        "date_invalid": "“{arg}” is not a date. Use YYYY-MM-DD, e.g. {p}date {example}.",
        "date_none": "No digest for {date}. The nearest earlier one is from {latest}: {p}date {latest}",
        "date_none_earlier": "No digest for {date} or any day before it.",
        "admins_only": "Only group admins can change this chat's subscription.",
        "subscribe_bad_time": "“{arg}” is not a time of day. Use 24-hour HH:MM, e.g. {p}subscribe 09:30.",
        "subscribed": "Subscribed: the digest will arrive here every day at {time} ({timezone}).",
        "subscription_changed": "Updated: the digest now arrives here every day at {time} ({timezone}).",
        "subscribed_categories": " Only these categories: {categories}.",
        "unsubscribed": "Unsubscribed: no more daily digests here.",
        "not_subscribed": "This chat was not subscribed.",
        "unknown_command": "Unknown command {p}{name}. Send {p}help for the list.",
        "failure": "Something went wrong on my side. Please try again later.",
        "correction_notice": "Correction: the digest of {date} changed after it was posted (items {items}).",
        "digest_changed": "The digest has changed since; send {p}item N or {p}category again.",
        "too_fast": "Too many commands in a short time. I will answer again in about {seconds} s.",
        "subscribe_by_config": "On Discord a channel gets the daily digest through a webhook set in the bot's "
                               "config, not by {p}subscribe: ask whoever runs the bot to add or remove this "
                               "channel's webhook.",
        "option_number": "the item's number, e.g. 3",
        "option_category": "a category name",
        "option_date": "the day, YYYY-MM-DD",
        "option_public": "show the answer to the whole channel",
        "describe_subscribe_by_config": "how a channel gets the daily digest on Discord",
        "describe_unsubscribe_by_config": "how a channel stops getting the daily digest on Discord",
    },
    "zh": {
        "help_intro": "我每天在这里发布新闻速递，也随时回答以下命令：",
        "help_public": "在命令后加 “public” 可把回答发给整个频道。",
        "help_line": "{p}{usage} — {description}",
        "arg_item": "N",
        "arg_category": "分类名",
        "arg_date": "YYYY-MM-DD",
        "arg_subscribe": "[HH:MM [分类…]]",
        "describe_today": "今天的速递",
        "describe_item": "今天速递中的一条，例如 3",
        "describe_category": "今天某个分类下的条目",
        "describe_categories": "所有分类及今天的条目数",
        "describe_date": "往日的速递",
        "describe_subscribe": "每天在这里接收速递（默认 {time}）",
        "describe_unsubscribe": "停止在这里接收每日速递",
        "describe_help": "显示本帮助",
        "list_separator": "、",
        "none_today": "{today} 的速递还没有发布。最近一期是 {latest}：{p}date {latest}",
        "none_at_all": "还没有发布过任何速递。",
        "from_latest": "{text}（最近一期；{today} 的速递还没有发布）",
        "unreadable": "{date} 的速递暂时无法读取，请稍后再试。",
        "no_items": "{date} 的速递没有条目。",
        "item_usage": "要看哪一条？请发送 {p}item N，例如 {p}item 3。",
        "item_not_number": "“{arg}” 不是条目编号。请发送 {p}item N，例如 {p}item 3。",
        "item_out_of_range": "今天只有 {count} 条（{first}-{last}）。",
        "item_only_one": "今天只有 1 条（{first}）。",
        "item_heading": "第 {number} 条 · {date}",
        "category_usage": "要看哪个分类？请发送 {p}category 分类名。现有分类：{categories}",
        "category_unknown": "没有名为 “{name}” 的分类。现有分类：{categories}",
        "category_empty": "今天（{date}）没有 {category} 分类的条目。",
        "category_heading": "{category} · {date}",
        "categories_none": "尚未设置任何分类。",
        "categories_today": "{date} 的分类：",
        "categories_line": "• {category}：{count}",
        "categories_known": "现有分类：{categories}",
        "date_usage": "要看哪一天？请发送 {p}date YYYY-MM-DD，例如 {p}date {example}。",
        "date_invalid": "“{arg}” 不是有效日期。请使用 YYYY-MM-DD 格式，例如 {p}date {example}。",
        "date_none": "{date} 没有速递。此前最近的一期是 {latest}：{p}date {latest}",
        "date_none_earlier": "{date} 及之前都没有速递。",
        "admins_only": "只有群管理员可以更改本群的订阅。",
        "subscribe_bad_time": "“{arg}” 不是有效时间。请使用 24 小时制 HH:MM，例如 {p}subscribe 09:30。",
        "subscribed": "订阅成功：每天 {time}（{timezone}）将在这里发送速递。",
        "subscription_changed": "已更新：现在每天 {time}（{timezone}）在这里发送速递。",
        "subscribed_categories": "仅限分类：{categories}。",
        "unsubscribed": "已退订：这里将不再收到每日速递。",
        "not_subscribed": "这里原本就没有订阅。",
        "unknown_command": "未知命令 {p}{name}。发送 {p}help 查看全部命令。",
        "failure": "出了点问题，请稍后再试。",
        "correction_notice": "更正：{date} 的速递在发出后有改动（第 {items} 条）。",
        "digest_changed": "速递已经更新了，请重新发送 {p}item N 或 {p}category。",
        "too_fast": "命令发得太快了，大约 {seconds} 秒后我再回答。",
        "subscribe_by_config": "在 Discord 上，频道通过机器人配置文件中设定的 Webhook 接收每日速递，"
                               "而不是用 {p}subscribe：请联系运行机器人的人添加或移除本频道的 Webhook。",
        "option_number": "条目编号，例如 3",
        "option_category": "分类名",
        "option_date": "日期，格式 YYYY-MM-DD",
        "option_public": "把回答发给整个频道",
        "describe_subscribe_by_config": "在 Discord 上，频道如何接收每日速递",
        "describe_unsubscribe_by_config": "在 Discord 上，频道如何停止接收每日速递",
    },
}


def normalize_language(language: str) -> str:
    """"zh", "zh-CN", "zh_Hans" → "zh"; "en", "en-US" → "en"; anything else → the default."""
    base = language.strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in CATALOGUES else DEFAULT_LANGUAGE


def text(language: str, key: str, **values: object) -> str:
    """The catalogue entry `key` in `language`, with its placeholders filled in."""
    return CATALOGUES[normalize_language(language)][key].format(**values)


def join_list(language: str, names: list[str]) -> str:
    return text(language, "list_separator").join(names)
