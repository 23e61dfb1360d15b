"""Stage 3, Transcript -> findings: the taggers, one module per course ID or tight ID group, and what they share.

``view`` is the call and its lexicon cues, ``signals/`` what several taggers read
(customer stages, questions, restatements, transfers, voice rises), ``context``
the view with those signals as cached properties, ``taggers/`` the taggers by
versioned name, ``questions/`` T-QUESTION's detector and classifier,
``thresholds`` their numbers, ``versions`` what a score's findings were made
with, ``runner.tag`` runs them all over one call.
"""
