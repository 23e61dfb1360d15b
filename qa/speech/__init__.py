"""Stage 1, Recording -> Transcript: decode, find speech, transcribe, separate and name the speakers, measure the voice."""
