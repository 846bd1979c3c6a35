"""The HTTP side of the untrusted-input checks, on requests built in memory."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from shared.http.inputs import MAX_POSITION, check_request, int_param
from shared.http.problem import refused_input
from shared.untrusted import UntrustedInput


def request(target: str, **headers: str):
    return make_mocked_request("GET", target, headers=CIMultiDict(headers))


@pytest.mark.parametrize(("target", "headers", "field"), [
    ("/v1/achievements?issuer_id=%00", {}, "query parameter 'issuer_id'"),
    ("/v1/achievements?issuer_id=%ff", {}, "query parameter 'issuer_id'"),
    ("/v1/achievements?%00=x", {}, "query parameter '\ufffd'"),
    ("/v1/achievements/a%00b", {}, "path"),
    # Header bytes that are not UTF-8 cannot be built in memory; the raw-socket
    # integration tests (test_hostile_http.py) send them.
    ("/v1/whoami?key=%c3", {"Accept": "a\x00b"}, "header Accept"),
])
def test_unclean_text_is_a_malformed_request_naming_the_part(target, headers, field):
    with pytest.raises(UntrustedInput) as refused:
        check_request(request(target, **headers))
    assert refused.value.field == field and refused.value.malformed


def test_text_that_only_looks_escaped_passes():
    check_request(request("/v1/achievements?issuer_id=%2500&q=a+b&flag", Accept="*/*"))


def test_int_param_reads_path_then_query_within_its_range():
    req = make_mocked_request("GET", "/x/7?size=3", match_info={"position": "7"})
    assert int_param(req, "position", low=1) == 7
    assert int_param(req, "size", low=1) == 3
    assert int_param(req, "missing", default=5) == 5
    for name, value in (("position", "0"), ("position", str(MAX_POSITION + 1)), ("position", "9" * 30)):
        with pytest.raises(UntrustedInput) as refused:
            int_param(make_mocked_request("GET", "/x", match_info={name: value}), name, low=1)
        assert refused.value.malformed and refused.value.field == f"path parameter {name}"


def test_refused_input_names_the_field_path_msgspec_located():
    problem = refused_input(UntrustedInput("body", "Expected `int` <= 8 - at `$.scope.eqf_levels[0]`",
                                           malformed=False))
    assert problem.status == 422
    assert problem.errors == [{"field": "body.scope.eqf_levels[0]", "detail": "Expected `int` <= 8"}]
    assert refused_input(UntrustedInput("body", "is not valid UTF-8 (byte 3)")).status == 400
