"""The corrections store against a hostile visitor, through the running app's HTTP API: a new session
per call does not escape the per-address rate, labels come as ints or digit strings and anything else
is refused quoted short, and a damaged metadata.jsonl gives a named error (never a traceback or a
server path) and is mended before the next item is appended."""
from __future__ import annotations

import json

import pytest
from gradio_client import Client

from harness.app_driver import serve_app
from train.feedback import FeedbackError, read_feedback
from webapp.draw.feedback import mend_last_line

PER_ADDRESS = 5


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feedback")
    # A whole record missing its newline, as a hand edit leaves it: the next item once merged into it.
    (folder / "images").mkdir()
    (folder / "metadata.jsonl").write_text(json.dumps({"file_name": "images/old.png", "label": 3}))
    env = {"RUNS_DIR": str(tmp_path_factory.mktemp("runs")), "FEEDBACK_DIR": str(folder),
           "FEEDBACK_PER_ADDRESS_HOUR": str(PER_ADDRESS)}
    with serve_app(env) as url:
        yield url, folder


def test_labels_are_digits_as_ints_or_strings_and_the_rest_is_quoted_short(app, reference):
    url, folder = app
    files, _ = reference
    message, _ = Client(url, verbose=False).predict(files, "7", api_name="/feedback")
    assert "Saved as 7" in message
    lines = (folder / "metadata.jsonl").read_text().splitlines()
    assert [json.loads(line)["label"] for line in lines] == [3, 7]       # the old record kept, on its own line
    for bad in ("x" * 300_000, "77", -1, 10):
        with pytest.raises(Exception) as refused:
            Client(url, verbose=False).predict(files, bad, api_name="/feedback")
        assert "0 to 9" in str(refused.value) and len(str(refused.value)) < 300


def test_a_new_session_per_call_does_not_escape_the_address_rate(app, reference):
    url, folder = app
    files, _ = reference
    outcomes = []
    for _ in range(PER_ADDRESS + 3):
        try:
            outcomes.append(Client(url, verbose=False).predict(files, 1, api_name="/feedback")[0])
        except Exception as e:      # noqa: BLE001 - the refusal's message is checked below
            outcomes.append(str(e))
    saved = [o for o in outcomes if o.startswith("Saved")]
    assert len(saved) == PER_ADDRESS - 1            # one was spent by the test above
    assert "in an hour from your address" in outcomes[-1]


def test_a_fragment_for_a_last_line_is_cut_off_before_appending(tmp_path):
    meta = tmp_path / "metadata.jsonl"
    meta.write_bytes(b'{"file_name": "images/a.png", "label": 1}\n{"file_name": "images/b.pn')
    mend_last_line(meta)
    assert meta.read_bytes() == b'{"file_name": "images/a.png", "label": 1}\n'


def test_a_deeply_nested_line_is_a_named_error_without_the_servers_path(tmp_path):
    (tmp_path / "metadata.jsonl").write_text("[" * 5_000 + "]" * 5_000 + "\n" + "[" * 100_000 + "\n")
    with pytest.raises(FeedbackError) as error:
        read_feedback(tmp_path, check_images=False)
    message = str(error.value)
    assert message.startswith("metadata.jsonl line 1: not a JSON object") and str(tmp_path) not in message
    (tmp_path / "metadata.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(FeedbackError, match="line 1: over 16,384 bytes"):
        read_feedback(tmp_path, check_images=False)
