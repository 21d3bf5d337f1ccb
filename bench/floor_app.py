"""The app with one addition for bench.serve_load: /noop, a twin of /predict that does no work.

It takes the same inputs (the sketchpad, uploaded and decoded by Gradio), returns the same outputs
(a real prediction's values, computed once at start and encoded again by Gradio on every call) and
has the same concurrency settings as /predict. Its latency is the framework's floor for /predict.
Only the bench starts it, so the public app carries no benchmark endpoint.

    python -m bench.floor_app     # as `python app.py`, plus /noop"""
from __future__ import annotations

import gradio as gr

import app
from train.pen_digits import load_pen_digits, render_sketchpad


def main() -> None:
    sample = render_sketchpad(load_pen_digits()[0], canvas=app.CANVAS)
    outputs = app.predict(sample, app.DEFAULT_KEY)

    def noop(sketch: dict | None, model_key: str) -> tuple:
        return outputs

    with app.demo:    # re-entering the Blocks adds an event to the built app
        gr.Button(visible=False).click(noop, [app.sketch, app.model_key],
                                       [app.probabilities, app.digit, app.seen, app.hint], api_name="noop",
                                       show_progress="hidden", concurrency_limit=app.PREDICT_CONCURRENCY,
                                       concurrency_id="noop")
    app.demo.launch(css=app.CSS, max_file_size=app.MAX_UPLOAD)    # as app.py's __main__ does


if __name__ == "__main__":
    main()
