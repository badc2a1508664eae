"""The digest: model, parser, sources and categories."""
