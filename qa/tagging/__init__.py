"""Stage 3, Transcript -> findings: the taggers, one module per course area, and what they share.

``context`` is what a tagger sees, ``taggers/`` the taggers by versioned name,
``questions/`` T-QUESTION's detector and classifier, ``thresholds`` their numbers,
``runner.tag`` runs them all over one call.
"""
