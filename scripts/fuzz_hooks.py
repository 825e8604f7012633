"""Schemathesis checks for preempt's REST API (scripts/fuzz-api.sh).

Every 4xx and 5xx answer must carry a catalogue code (docs/errors.md) in the one error
shape, and no answer may carry a stack trace.
"""
import json
import re

import schemathesis

STACK = re.compile(r"\n\s+at .+\(|node:internal|/node_modules/")


@schemathesis.check
def catalogue_error(ctx, response, case):
    """A 4xx or 5xx answer is {"error": {"code": "PREEMPT_ERR_…", "message": …}}."""
    if response.status_code < 400:
        return None
    if response.status_code == 503 and case.path == "/readyz":
        return None  # not ready: documented, with its checks
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"{response.status_code} answer is not JSON: {response.content[:200]!r}") from e
    err = body.get("error") if isinstance(body, dict) else None
    code = err.get("code", "") if isinstance(err, dict) else ""
    if not code.startswith("PREEMPT_ERR_"):
        raise AssertionError(
            f"{case.method} {case.path}: {response.status_code} answer without a catalogue code: {response.content[:300]!r}"
        )
    return None


@schemathesis.check
def no_stack_trace(ctx, response, case):
    text = response.content.decode("utf-8", "replace")
    if STACK.search(text):
        raise AssertionError(f"stack trace in the answer: {text[:300]!r}")
    return None
