"""OpenTelemetry tracing (the ``otel`` extra), recorded with the SDK's in-memory exporter
against the emulator over loopback HTTP."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from speechrest import PollPolicy, SpeechClient, _tracing, sync
from speechrest.errors import BadRequestError, InvalidInputError
from speechrest.resources.transcriptions import Transcriptions
from speechrest.testing import Fault, FaultPlan, SpeechEmulator, Timing, make_wav
from speechrest.types import Status
from tests._threaded import emulator_thread

pytestmark = pytest.mark.anyio

FAST = Timing(queue_delay=0.05, run_time=0.1, retry_after=0)
POLICY = PollPolicy(initial_interval=0.02, min_interval=0.02, max_interval=0.1)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A configured tracer provider for this test only (the global one is set once per
    process by the API: it is swapped in and out here)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield exporter
    provider.shutdown()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


def descendants(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    found = children(exporter, parent)
    return found + [s for child in found for s in descendants(exporter, child)]


def everything_shown(exporter: InMemorySpanExporter) -> list[str]:
    """Every value of every attribute, event and status of the recorded spans."""
    shown: list[str] = []
    for span in exporter.get_finished_spans():
        shown.append(span.name)
        shown.extend(str(v) for v in (span.attributes or {}).values())
        shown.append(str(span.status.description))
        for event in span.events:
            shown.append(event.name)
            shown.extend(str(v) for v in (event.attributes or {}).values())
    return shown


def assert_no_secret(exporter: InMemorySpanExporter, key: str) -> None:
    for value in everything_shown(exporter):
        assert key not in value
        assert not re.search(r"sig=(?!REDACTED)", value), value


async def test_without_a_configured_provider_nothing_is_traced(
    emulator: SpeechEmulator,
) -> None:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        assert client._api.transport.tracer is None
        assert type(client.transcriptions) is Transcriptions
        # the attempt is sent without a hook: the very code that runs without OpenTelemetry
        transport = client._api.transport
        assert transport._send == transport._attempt
        await client.transcribe(make_wav(comment="Hi."), locales=["en-US"])


async def test_without_opentelemetry_installed_nothing_is_traced(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, emulator: SpeechEmulator
) -> None:
    monkeypatch.setattr(_tracing, "_trace", None)
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        assert client._api.transport.tracer is None
        await client.transcribe(make_wav(comment="Hi."), locales=["en-US"])
    assert spans.get_finished_spans() == ()


async def test_transcribe_is_one_operation_span_over_a_client_span_per_attempt(
    spans: InMemorySpanExporter, emulator: SpeechEmulator
) -> None:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        result = await client.transcribe(make_wav(comment="Hello there."), locales=["en-US"])
    assert result.text == "Hello there."
    (operation,) = named(spans, "speechrest transcribe")
    assert operation.kind == SpanKind.INTERNAL
    assert operation.status.status_code == StatusCode.UNSET
    assert operation.attributes == {
        "azure.resource_provider.namespace": "Microsoft.CognitiveServices"
    }
    (http,) = children(spans, operation)
    assert http.name == "POST" and http.kind == SpanKind.CLIENT
    attributes = dict(http.attributes or {})
    request_id = attributes.pop("azure.service.request.id")
    assert re.fullmatch(r"[0-9a-f-]{36}", str(request_id))  # the emulator's apim-request-id
    port = int(emulator.endpoint.rsplit(":", 1)[1])
    assert attributes == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.full": f"{emulator.endpoint}/speechtotext/transcriptions:transcribe"
        "?api-version=2025-10-15",
        "http.response.status_code": 200,
    }
    assert http.status.status_code == StatusCode.UNSET
    assert_no_secret(spans, emulator.key)


async def test_a_retried_attempt_has_its_resend_count_and_the_failed_one_its_error() -> None:
    plan = FaultPlan()
    plan.add(Fault.throttled(retry_after=0), operation="Transcriptions_Transcribe", times=1)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trace, "_TRACER_PROVIDER", provider)
        async with (
            SpeechEmulator(faults=plan) as emulator,
            SpeechClient(emulator.endpoint, key=emulator.key, backoff_base=0.01) as client,
        ):
            await client.transcribe(make_wav(comment="Hi."), locales=["en-US"])
    (operation,) = named(exporter, "speechrest transcribe")
    first, second = sorted(children(exporter, operation), key=lambda s: s.start_time or 0)
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["http.response.status_code"] == 429
    assert first.attributes["error.type"] == "429"
    assert first.status.status_code == StatusCode.ERROR
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.request.resend_count"] == 1
    assert second.attributes["http.response.status_code"] == 200
    assert "error.type" not in second.attributes
    assert operation.status.status_code == StatusCode.UNSET


async def test_a_failed_operation_sets_error_type_and_status(
    spans: InMemorySpanExporter, emulator: SpeechEmulator
) -> None:
    emulator.faults.add(Fault.http_status(400), operation="Transcriptions_Get")
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(BadRequestError):
            await client.transcriptions.get("00000000-0000-0000-0000-000000000001")
    (operation,) = named(spans, "speechrest transcriptions.get")
    assert operation.status.status_code == StatusCode.ERROR
    assert operation.attributes is not None
    assert operation.attributes["error.type"] == "speechrest.errors.BadRequestError"
    assert [e.name for e in operation.events] == ["exception"]
    (http,) = children(spans, operation)
    assert http.attributes is not None
    assert http.attributes["error.type"] == "400"
    assert http.status.status_code == StatusCode.ERROR


async def test_a_connection_failure_is_the_attempts_error_type(spans: InMemorySpanExporter) -> None:
    async with SpeechEmulator() as emulator:
        endpoint, key = emulator.endpoint, emulator.key
    async with SpeechClient(endpoint, key=key, max_retries=0) as client:
        with pytest.raises(Exception) as raised:
            await client.transcriptions.list_supported_locales()
    (operation,) = named(spans, "speechrest transcriptions.list_supported_locales")
    (http,) = children(spans, operation)
    assert http.attributes is not None
    kind = type(raised.value)
    assert http.attributes["error.type"] == f"{kind.__module__}.{kind.__qualname__}"
    assert "http.response.status_code" not in http.attributes
    assert http.status.status_code == StatusCode.ERROR


async def test_input_errors_raised_before_sending_make_no_http_span(
    spans: InMemorySpanExporter, emulator: SpeechEmulator
) -> None:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(InvalidInputError):
            await client.transcriptions.submit(locale="en-US", content_urls=[])
    (operation,) = named(spans, "speechrest transcriptions.submit")
    assert operation.status.status_code == StatusCode.ERROR
    assert children(spans, operation) == []


async def test_a_batch_job_life_is_span_events_and_no_secret_is_shown(
    spans: InMemorySpanExporter,
) -> None:
    async with (
        SpeechEmulator(timing=FAST) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        urls = [
            emulator.serve_bytes(make_wav(comment="One."), "one.wav"),
            emulator.serve_bytes(make_wav(comment="Two."), "two.wav"),
        ]
        assert all("sig=" in url for url in urls)
        job = await client.transcriptions.submit(content_urls=urls, locale="en-US")
        await client.transcriptions.wait(job, policy=POLICY)
        texts = sorted([r.text async for r in client.transcriptions.results(job)])
        listed = [t.id async for t in client.transcriptions.list()]
    assert texts == ["One.", "Two."] and job.id in listed

    (submit,) = named(spans, "speechrest transcriptions.submit")
    assert [(e.name, dict(e.attributes or {})) for e in submit.events] == [
        ("submitted", {"speechrest.entity.id": job.id, "speechrest.status": "NotStarted"})
    ]
    (wait,) = named(spans, "speechrest transcriptions.wait")
    seen = [dict(e.attributes or {}) for e in wait.events]
    assert {e.name for e in wait.events} == {"status_changed"}
    assert seen[-1] == {"speechrest.entity.id": job.id, "speechrest.status": "Succeeded"}
    statuses = [s["speechrest.status"] for s in seen]
    assert len(set(statuses)) == len(statuses)  # changes only
    assert len(children(spans, wait)) >= len(seen)  # a CLIENT span per poll

    (results,) = named(spans, "speechrest transcriptions.results")
    assert [(e.name, dict(e.attributes or {})) for e in results.events] == [
        ("results_read", {"speechrest.results.count": 2})
    ]
    # the listing and each download (nested operation spans) happen inside the results span
    inner = descendants(spans, results)
    names = [s.name for s in inner]
    assert names.count("speechrest transcriptions.download") == 2
    assert names.count("speechrest transcriptions.list_files") == 1
    downloads = [
        http
        for span in inner
        if span.name == "speechrest transcriptions.download"
        for http in children(spans, span)
    ]
    assert len(downloads) == 2
    for http in downloads:
        assert http.attributes is not None
        url = str(http.attributes["url.full"])
        assert "sig=REDACTED" in url and "/blobs/" in url
    (listing,) = named(spans, "speechrest transcriptions.list")
    assert len(children(spans, listing)) == 1  # one page
    # low-cardinality names: no id anywhere in a span name
    assert all(job.id not in s.name for s in spans.get_finished_spans())
    assert_no_secret(spans, emulator.key)


async def test_fan_out_items_are_children_of_the_fan_out_span(
    spans: InMemorySpanExporter, emulator: SpeechEmulator
) -> None:
    sources = [make_wav(comment=f"Item {i}.") for i in range(3)]
    async with (
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
        client.transcribe_many(sources, concurrency=2, locales=["en-US"]) as outcomes,
    ):
        results = [item async for item in outcomes]
    assert all(item.ok for item in results)
    (fan_out,) = named(spans, "speechrest transcribe_many")
    items = children(spans, fan_out)
    assert [s.name for s in items] == ["speechrest transcribe"] * 3
    assert all(len(children(spans, item)) == 1 for item in items)
    assert fan_out.end_time is not None
    assert all((s.end_time or 0) <= fan_out.end_time for s in items)


async def test_wait_many_reports_each_end_as_an_event(spans: InMemorySpanExporter) -> None:
    async with (
        SpeechEmulator(timing=FAST) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        url = emulator.serve_bytes(make_wav(comment="One."), "one.wav")
        jobs = [
            await client.transcriptions.submit(content_urls=[url], locale="en-US") for _ in range(2)
        ]
        async with client.transcriptions.wait_many(jobs, policy=POLICY) as outcomes:
            done = [o async for o in outcomes]
    assert all(o.ok for o in done)
    (wait_many,) = named(spans, "speechrest transcriptions.wait_many")
    ended: list[dict[str, Any]] = [dict(e.attributes or {}) for e in wait_many.events]
    assert sorted(e["speechrest.entity.id"] for e in ended) == sorted(j.id for j in jobs)
    assert {e["speechrest.status"] for e in ended} == {str(Status.SUCCEEDED)}
    assert children(spans, wait_many)  # the polls are inside the block's span


async def test_the_callers_span_is_the_parent(
    spans: InMemorySpanExporter, emulator: SpeechEmulator
) -> None:
    tracer = trace.get_tracer("app")
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with tracer.start_as_current_span("handler") as handler:
            await client.transcriptions.list_supported_locales()
    (operation,) = named(spans, "speechrest transcriptions.list_supported_locales")
    assert operation.parent is not None
    assert operation.parent.span_id == handler.get_span_context().span_id


def test_the_blocking_client_carries_the_callers_span(spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("app")
    with (
        emulator_thread() as emulator,
        sync.SpeechClient(emulator.endpoint, key=emulator.key) as client,
        tracer.start_as_current_span("task") as task,
    ):
        client.transcribe(make_wav(comment="Hi."), locales=["en-US"])
        assert [p.display_name for p in client.projects.list()] == []
        with client.transcribe_many([make_wav(comment="Hi.")], locales=["en-US"]) as outcomes:
            assert [item.ok for item in outcomes] == [True]
    (fan_out,) = named(spans, "speechrest transcribe_many")
    assert fan_out.parent is not None
    assert fan_out.parent.span_id == task.get_span_context().span_id
    assert [s.name for s in children(spans, fan_out)] == ["speechrest transcribe"]
    for name in ("speechrest projects.list",):
        (operation,) = named(spans, name)
        assert operation.parent is not None, name
        assert operation.parent.span_id == task.get_span_context().span_id
        assert len(children(spans, operation)) == 1


async def test_a_list_left_early_ends_its_span(
    spans: InMemorySpanExporter, emulator: SpeechEmulator
) -> None:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        for _ in range(3):
            await client.projects.create(display_name="p", locale="en-US")
        async for project in client.projects.list(top=1):
            assert project.display_name == "p"
            break
        gc.collect()
    (listing,) = named(spans, "speechrest projects.list")
    assert len(children(spans, listing)) == 1  # the first page only
