"""Text below any markup: script classes, grapheme clusters, where text may be cut and how far a budget reaches."""
