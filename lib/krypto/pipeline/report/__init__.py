"""The results report (``python -m krypto.pipeline.report``, :mod:`.cli`): the finished runs read
into results.json (:mod:`.collect`) and rendered as REPORT.md and the README's block
(:mod:`.markdown`) as report.yaml describes (:mod:`.spec`); :mod:`.agreement` checks a
reproduction."""
