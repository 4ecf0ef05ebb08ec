"""The Prometheus text-format parser behind http.metrics (served for real in test_http.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.executors.scrape import HttpMetrics, NotExposition, parse

EXPOSITION = r"""# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 -1395066363000
http_requests_total{method="get",code="500",path="/say \"hi\"\n\\x",} 5
  http_request_duration_seconds_bucket { le = "+Inf" } 1e3
http_request_duration_seconds_sum -Inf
# EOF
"""


def test_parse_labels_with_escapes() -> None:
    samples = parse(EXPOSITION)

    assert [s.name for s in samples] == [
        "http_requests_total",
        "http_requests_total",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
    ]
    assert samples[2].labels == (("method", "get"), ("code", "500"), ("path", '/say "hi"\n\\x'))
    assert [s.value for s in samples] == [1027.0, 3.0, 5.0, 1000.0, float("-inf")]
    assert samples[3].labels == (("le", "+Inf"),)


def test_parse_reports_the_line() -> None:
    with pytest.raises(NotExposition, match=r"^line 3: 'fast' is not a number$"):
        parse("# TYPE up gauge\nup 1\nup fast\n")


@pytest.mark.parametrize(
    "line",
    [
        "up",
        "up 1 2 3",
        "up one",
        "up 1 later",
        "up{job=prom} 1",
        'up{job="prom" instance="x"} 1',
        'up{="x"} 1',
        '{job="x"} 1',
        'up{job="x"',
        "up-1 2",
    ],
)
def test_parse_rejects_what_is_not_the_text_format(line: str) -> None:
    with pytest.raises(NotExposition):
        parse(line)


def test_metrics_params_need_a_match() -> None:
    bad_params: tuple[dict[str, list[str]], ...] = ({"match": []}, {"match": ["a b"]}, {})
    for bad in bad_params:
        with pytest.raises(ValidationError):
            HttpMetrics.model_validate({"type": "http.metrics", "url": "http://x/metrics", **bad})
