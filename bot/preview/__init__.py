"""The publisher's preview: one self-contained HTML page showing a digest as each platform shows it.

``build.build_page`` turns a digest into a page model (views, parts, meters, flags);
``page.render_page`` writes it as HTML; ``serve`` keeps it fresh on 127.0.0.1 while a digest is written.
"""
