"""Stage 2, Transcript -> masked Transcript: personal numbers, e-mails and the like hidden before anything is kept."""
