"""Rendering a generation transcript as Markdown."""

from __future__ import annotations

from typing import Any

from llmdas.llm.base import Message


def transcript_markdown(transcript: dict[str, Any], *, title: str | None = None) -> str:
    """Render a generation transcript as Markdown, in order: prompts, replies, checks, review.

    For each LLM call only the messages that are new in its conversation are printed (a repair
    call repeats the earlier turns, which were printed before); the JSON keeps every message.
    """
    llm = transcript.get("llm", {})
    out = [f"# {title or 'Generation transcript: ' + str(transcript.get('detector'))}", ""]
    out += [
        f"- detector: `{transcript.get('detector')}`, prompt variant `{transcript.get('variant')}`"
        f" ({transcript.get('prompt_version')}), prompt sha256 `{transcript.get('prompt_sha256')}`",
        f"- LLM endpoint: provider `{llm.get('provider')}`, model `{llm.get('model')}`, host "
        f"`{llm.get('base_url_host') or 'default'}`",
        f"- probe data: {transcript.get('probe', {}).get('kind')}, "
        f"{transcript.get('probe', {}).get('rows')} x {transcript.get('probe', {}).get('columns')}",
        f"- started {transcript.get('started')}, finished {transcript.get('finished')}; token usage "
        f"{transcript.get('usage')}",
        "",
    ]
    seen: list[list[Message]] = []

    def new_messages(messages: list[Message]) -> list[Message]:
        best = 0
        for earlier in seen:
            n = 0
            while n < min(len(earlier), len(messages)) and earlier[n] == messages[n]:
                n += 1
            best = max(best, n)
        seen.append(messages)
        return messages[best:]

    fence = "`" * 4
    for event in transcript.get("events", []):
        kind = event.get("kind")
        where = (
            ""
            if event.get("candidate") is None
            else f" (candidate {event['candidate']}, round {event.get('round', 0)})"
        )
        if kind in ("llm_call", "llm_error"):
            out.append(f"## {event['seq']}. LLM call: {event.get('step')}{where}")
            out.append("")
            fresh = new_messages(event.get("messages", []))
            skipped = len(event.get("messages", [])) - len(fresh)
            if skipped:
                out.append(f"*({skipped} earlier message(s) of this conversation, shown above)*")
                out.append("")
            for message in fresh:
                out.append(f"**{message['role']}:**")
                out.append("")
                out += [f"{fence}text", message["content"].rstrip(), fence, ""]
            if kind == "llm_call":
                out.append(
                    f"**reply** (model `{event.get('model')}`, id `{event.get('raw_id')}`, "
                    f"usage {event.get('usage')}, attempts {event.get('attempts')}):"
                )
                out.append("")
                out += [f"{fence}markdown", str(event.get("reply", "")).rstrip(), fence, ""]
                seen[-1] = [*seen[-1], {"role": "assistant", "content": event.get("reply", "")}]
            else:
                out += [f"**error:** {event['error']['type']}: {event['error']['message']}", ""]
        elif kind in ("check", "run"):
            label = "static check" if kind == "check" else "sandbox run on the probe data"
            if event.get("ok"):
                extra = (
                    f": {event.get('rows')} rows, {event.get('n_score_calls')} score call(s), "
                    f"{event.get('elapsed_s')} s"
                    if kind == "run"
                    else ""
                )
                out += [f"**{label}{where}: passed**{extra}", ""]
            else:
                err = event.get("error", {})
                out += [f"**{label}{where}: failed**: {err.get('type')}: {err.get('message')}", ""]
                if err.get("traceback"):
                    out += [fence, err["traceback"].rstrip(), fence, ""]
        elif kind == "review":
            s = event.get("scores", {})
            verdict = (
                "passed" if event.get("ok") else "rejected: " + "; ".join(s.get("problems", []))
            )
            out += [
                f"**review{where}: {verdict}** - hardness {s.get('hardness'):.3f}, mean score "
                f"percentile {s.get('mean_score_percentile'):.1f}, novelty "
                f"{s.get('novelty'):.3f}, copies {s.get('copy_fraction'):.0%}, unique rows "
                f"{s.get('unique_fraction'):.0%}",
                "",
            ]
        elif kind == "normalize":
            out += [f"**normalised{where}:** {event.get('note')}", ""]
        elif kind == "llm_verdict":
            out += [f"**LLM reviewer verdict{where}: {event.get('verdict')}**", ""]
        elif kind == "repair":
            out += [f"**repair{where}** after {event.get('error_kind')}", ""]
        elif kind == "stopped":
            error = event.get("error", {})
            out += [f"**run stopped early:** {error.get('type')}: {error.get('message')}", ""]
        elif kind == "interrupted":
            out += [
                f"**interrupted** (Ctrl-C) after {event.get('candidates_finished')} candidate(s)",
                "",
            ]
        elif kind == "decision":
            accepted = event.get("accepted_candidate")
            head = "no candidate accepted" if accepted is None else f"accepted candidate {accepted}"
            out += [f"## Decision: {head}", "", str(event.get("reason", "")), ""]
    out.append("## Candidates")
    out.append("")
    out.append("| # | status | repair rounds | hardness | novelty | error |")
    out.append("|---|---|---|---|---|---|")
    for c in transcript.get("candidates", []):
        s = c.get("scores") or {}
        hardness = f"{s['hardness']:.3f}" if s else "-"
        novelty = f"{s['novelty']:.3f}" if s else "-"
        error = str(c.get("error", "")).replace("|", "/")
        out.append(
            f"| {c['index']} | {c['status']} | {c['repair_rounds']} | {hardness} | {novelty} "
            f"| {error} |"
        )
    out.append("")
    return "\n".join(out)
