"""The results report: every table and figure of the README, from the finished runs.

``python -m krypto.pipeline.report [--runs-dir runs] [--out runs/report] [--readme README.md |
--no-readme]`` (:mod:`.cli`): :func:`.collect.collect` writes ``<out>/results.json`` (every
table, verdict, finding and source of the runs of ``params/readme.yaml``) and the figures;
:func:`.markdown.render_markdown` makes ``REPORT.md`` and the README's block of it;
:func:`.cli.check_readme` finds where they disagree; :mod:`.agreement` checks a reproduction.
What the report shows is described in ``report.yaml`` (:mod:`.spec`).
"""
