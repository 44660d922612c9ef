"""The results report (``python -m krypto.pipeline.report``, :mod:`.cli`): the finished runs
read into results.json (:mod:`.collect`), rendered as REPORT.md and the README's block
(:mod:`.markdown`) as report.yaml says (:mod:`.spec`); :mod:`.agreement` checks a reproduction."""
