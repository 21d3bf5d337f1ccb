"""Draw a digit and watch the MLP read it; press Train and watch a new one learn.

    python app.py            # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT honoured)
    python app.py --share    # plus a public gradio.live link

Environment: RUNS_DIR (where runs trained here are saved, default runs/), ALLOW_TRAINING=0 (a
read-only server that only predicts), MNIST_ROOT (where MNIST is read from on the first Train),
TENSOR_CACHE (where MNIST as tensors and the style copies are kept, default data/cache/),
PREDICT_CONCURRENCY (predictions served at once, default 4), TORCH_THREADS (torch intra-op threads
for the server and for its training process, default 1), and the limits in webapp/guards/limits.py.

API (gradio_client): /predict takes the sketchpad value and returns the probabilities first;
/train takes the hyperparameters and streams the run; /stop stops the caller's own run.

The app lives in the webapp/ package. This file only starts it, and imports it only when run: a
spawned training process re-imports this file as its main module and must not build the UI."""
import argparse

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the digit recognizer app.")
    parser.add_argument("--share", action="store_true", help="also serve a public gradio.live link (default: off)")
    share = parser.parse_args().share

    from webapp.guards.limits import training_allowed
    from webapp.training.defaults import TRAIN_TAB
    from webapp.training.worker import SERVER_PROCESS
    if training_allowed():
        SERVER_PROCESS.start(ready_for=TRAIN_TAB)    # it gets ready (seconds) while the UI is built below
    from webapp.ui import build, launch
    launch(build(), share=share)
