"""Stage 4, findings -> Scorecard: the rubric as data, the scoring, and agreement with reviewers."""
