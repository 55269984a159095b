"""Rendering a generation transcript as Markdown."""

from __future__ import annotations

from typing import Any

from llmdas.llm.base import Message

_FENCE = "`" * 4  # longer than any fence in a prompt or reply


def transcript_markdown(transcript: dict[str, Any], *, title: str | None = None) -> str:
    """Render a generation transcript as Markdown, in order: prompts, replies, checks, review.

    For each LLM call only the messages that are new in its conversation are printed (a repair
    call repeats the earlier turns, which were printed before); the JSON keeps every message.
    """
    out = [f"# {title or 'Generation transcript: ' + str(transcript.get('detector'))}", ""]
    out += _header_lines(transcript)
    conversations = _Conversations()
    for event in transcript.get("events", []):
        where = (
            ""
            if event.get("candidate") is None
            else f" (candidate {event['candidate']}, round {event.get('round', 0)})"
        )
        if event.get("kind") in ("llm_call", "llm_error"):
            out += _llm_call_lines(event, where, conversations)
        else:
            out += _step_lines(event, where)
    out += _candidates_lines(transcript.get("candidates", []))
    return "\n".join(out)


def _header_lines(transcript: dict[str, Any]) -> list[str]:
    """Which detector, prompt, endpoint and probe data; when, and the tokens used."""
    llm = transcript.get("llm", {})
    probe = transcript.get("probe", {})
    return [
        f"- detector: `{transcript.get('detector')}`, prompt variant `{transcript.get('variant')}`"
        f" ({transcript.get('prompt_version')}), prompt sha256 `{transcript.get('prompt_sha256')}`",
        f"- LLM endpoint: provider `{llm.get('provider')}`, model `{llm.get('model')}`, host "
        f"`{llm.get('base_url_host') or 'default'}`",
        f"- probe data: {probe.get('kind')}, {probe.get('rows')} x {probe.get('columns')}",
        f"- started {transcript.get('started')}, finished {transcript.get('finished')}; token usage "
        f"{transcript.get('usage')}",
        "",
    ]


class _Conversations:
    """The conversations printed so far, to print only what a call adds to one of them."""

    def __init__(self) -> None:
        self.seen: list[list[Message]] = []

    def new_messages(self, messages: list[Message]) -> list[Message]:
        """The messages after the longest prefix ``messages`` shares with a printed one."""
        best = 0
        for earlier in self.seen:
            n = 0
            while n < min(len(earlier), len(messages)) and earlier[n] == messages[n]:
                n += 1
            best = max(best, n)
        self.seen.append(messages)
        return messages[best:]

    def add_reply(self, reply: str) -> None:
        """The reply to the last call continues its conversation (a repair call repeats it)."""
        self.seen[-1] = [*self.seen[-1], {"role": "assistant", "content": reply}]


def _llm_call_lines(event: dict[str, Any], where: str, conversations: _Conversations) -> list[str]:
    """An LLM call: the messages new in its conversation, then its reply or its error."""
    out = [f"## {event['seq']}. LLM call: {event.get('step')}{where}", ""]
    messages = event.get("messages", [])
    fresh = conversations.new_messages(messages)
    if len(messages) > len(fresh):
        skipped = len(messages) - len(fresh)
        out += [f"*({skipped} earlier message(s) of this conversation, shown above)*", ""]
    for message in fresh:
        out += [f"**{message['role']}:**", "", f"{_FENCE}text", message["content"].rstrip()]
        out += [_FENCE, ""]
    if event.get("kind") == "llm_error":
        return out + [f"**error:** {event['error']['type']}: {event['error']['message']}", ""]
    out += [
        f"**reply** (model `{event.get('model')}`, id `{event.get('raw_id')}`, "
        f"usage {event.get('usage')}, attempts {event.get('attempts')}):",
        "",
        f"{_FENCE}markdown",
        str(event.get("reply", "")).rstrip(),
        _FENCE,
        "",
    ]
    conversations.add_reply(event.get("reply", ""))
    return out


def _step_lines(event: dict[str, Any], where: str) -> list[str]:
    """Any other step of the loop: a check, a run, a review, a repair, the decision, ..."""
    kind = str(event.get("kind"))
    if kind in ("check", "run"):
        label = "static check" if kind == "check" else "sandbox run on the probe data"
        if event.get("ok"):
            extra = (
                f": {event.get('rows')} rows, {event.get('n_score_calls')} score call(s), "
                f"{event.get('elapsed_s')} s"
                if kind == "run"
                else ""
            )
            return [f"**{label}{where}: passed**{extra}", ""]
        err = event.get("error", {})
        out = [f"**{label}{where}: failed**: {err.get('type')}: {err.get('message')}", ""]
        if err.get("traceback"):
            out += [_FENCE, err["traceback"].rstrip(), _FENCE, ""]
        return out
    if kind == "review":
        s = event.get("scores", {})
        verdict = "passed" if event.get("ok") else "rejected: " + "; ".join(s.get("problems", []))
        return [
            f"**review{where}: {verdict}** - hardness {s.get('hardness'):.3f}, mean score "
            f"percentile {s.get('mean_score_percentile'):.1f}, novelty "
            f"{s.get('novelty'):.3f}, copies {s.get('copy_fraction'):.0%}, unique rows "
            f"{s.get('unique_fraction'):.0%}",
            "",
        ]
    if kind == "decision":
        accepted = event.get("accepted_candidate")
        head = "no candidate accepted" if accepted is None else f"accepted candidate {accepted}"
        return [f"## Decision: {head}", "", str(event.get("reason", "")), ""]
    error = event.get("error", {})
    line = {
        "normalize": f"**normalised{where}:** {event.get('note')}",
        "llm_verdict": f"**LLM reviewer verdict{where}: {event.get('verdict')}**",
        "repair": f"**repair{where}** after {event.get('error_kind')}",
        "stopped": f"**run stopped early:** {error.get('type')}: {error.get('message')}",
        "interrupted": f"**interrupted** (Ctrl-C) after {event.get('candidates_finished')} "
        "candidate(s)",
    }.get(kind, "")  # a kind this version does not know (a later version's) is in the JSON only
    return [line, ""] if line else []


def _candidates_lines(candidates: list[dict[str, Any]]) -> list[str]:
    """A table of every candidate: status, repair rounds, review scores, error."""
    out = [
        "## Candidates",
        "",
        "| # | status | repair rounds | hardness | novelty | error |",
        "|---|---|---|---|---|---|",
    ]
    for c in candidates:
        s = c.get("scores") or {}
        hardness = f"{s['hardness']:.3f}" if s else "-"
        novelty = f"{s['novelty']:.3f}" if s else "-"
        error = str(c.get("error", "")).replace("|", "/")
        out.append(
            f"| {c['index']} | {c['status']} | {c['repair_rounds']} | {hardness} | {novelty} "
            f"| {error} |"
        )
    return out + [""]
