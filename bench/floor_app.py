"""The app with one addition for bench.serve_load: /noop, a twin of /predict that does no work.

It takes the same inputs (the sketchpad, uploaded and decoded by Gradio), returns the same outputs
(a real prediction's values, computed once at start and encoded again by Gradio on every call) and
has the same concurrency settings as /predict. Its latency is the framework's floor for /predict.
Only the bench starts it, so the public app carries no benchmark endpoint.

    python -m bench.floor_app     # as `python app.py`, plus /noop"""
from __future__ import annotations

import gradio as gr

from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS
from webapp.draw.tab import predict
from webapp.guards.limits import PREDICT_CONCURRENCY
from webapp.training.runs import DEFAULT_KEY
from webapp.ui import build, launch


def main() -> None:
    outputs = predict(render_sketchpad(load_pen_digits()[0], canvas=CANVAS), DEFAULT_KEY)

    def noop(sketch: dict | None, model_key: str, hand) -> tuple:
        return outputs

    app = build()
    with app.blocks:    # re-entering the Blocks adds an event to the built app
        gr.Button(visible=False).click(noop, app.predict_inputs, app.predict_outputs, api_name="noop",
                                       show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY,
                                       concurrency_id="noop")
    launch(app)    # as app.py does


if __name__ == "__main__":
    main()
