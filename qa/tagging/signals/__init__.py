"""Signals several taggers read, computed once per call from a ``CallView``.

``qa.tagging.context.TagContext`` exposes each as a cached property
(``ctx.customer_stages``, ``ctx.questions``, ``ctx.restatements``,
``ctx.transfers``, ``ctx.loudness_rises``): a tagger asks for it, the first
ask computes it, and the next tagger gets the same typed result.
"""
