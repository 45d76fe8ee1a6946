from hypothesis import given
from hypothesis import strategies as st

from harness.clients.sse import SseEvent, SseParser

# Text with multi-byte characters, but no line breaks (they delimit fields).
TEXT = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30)
EVENTS = st.lists(
    st.builds(
        SseEvent,
        data=st.lists(TEXT, min_size=1, max_size=3).map("\n".join),
        event=st.sampled_from(["message", "update"]),
        id=st.none() | st.text("abc123", min_size=1, max_size=4),
    ),
    max_size=6,
)


@st.composite
def streams(draw):
    """A valid event stream with mixed CRLF/LF/CR terminators and comments, and its events."""
    events = draw(EVENTS)
    out = b""
    last_id = None
    expected = []
    for event in events:
        eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"])).decode()
        lines = [": keep-alive"] if draw(st.booleans()) else []
        if event.event != "message":
            lines.append(f"event: {event.event}")
        if event.id is not None:
            lines.append(f"id:{event.id}")
            last_id = event.id
        lines += [f"data: {line}" for line in event.data.split("\n")]
        out += "".join(line + eol for line in lines).encode() + eol.encode()
        expected.append(SseEvent(event.data, event.event, last_id))  # ids persist across events
    return out, expected


def _parse(chunks: list[bytes]) -> list[SseEvent]:
    parser = SseParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)]
    return events + parser.close()


@given(streams(), st.lists(st.integers(0, 10_000), max_size=12))
def test_any_split_of_a_stream_yields_the_same_events(stream, cuts) -> None:
    raw, expected = stream
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)])]
    assert _parse([raw]) == expected
    assert _parse(pieces) == expected


@given(streams())
def test_byte_at_a_time(stream) -> None:
    raw, expected = stream
    assert _parse([raw[i : i + 1] for i in range(len(raw))]) == expected


def test_openai_style_stream_and_unfinished_tail() -> None:
    parser = SseParser()
    events = parser.feed(b'data: {"a": 1}\n\ndata: [DONE]\n\ndata: {"partial"')
    assert [e.data for e in events] == ['{"a": 1}', "[DONE]"]
    assert parser.close() == []  # an event without its blank line is never dispatched
