"""K2's transfers: the agent sending the customer elsewhere (the stages' complaint class counts them too)."""

from __future__ import annotations

from typing import Any

from qa.tagging.view import CallView


def utterance_transfers(call: CallView, index: int) -> list[Any]:
    """Transfer cues of an agent utterance, without those the agent does for the customer.

    我马上为您联系快递 is the agent acting (a commitment right before the cue), not a
    run-around like 您联系快递吧.
    """
    acting = [m.end_char for m in call.kinds(index, "commitment")]
    return [m for m in call.kinds(index, "transfer")
            if not any(m.start_char - 1 <= end <= m.end_char for end in acting)]


def transfers(call: CallView) -> dict[int, list[Any]]:
    """Agent utterance index -> its transfer cues, for every agent utterance (most have none), in call order."""
    return {i: utterance_transfers(call, i) for i, u in enumerate(call.utterances) if u.role == "agent"}
