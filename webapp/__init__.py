"""The web app: a Gradio UI over `mnist_model` (Draw) and the `train` engine (Train).

`app.py` at the repository root is the entry point; `webapp.ui` builds and launches the Blocks.
Nothing here imports gradio at package import, so a spawned training process (webapp.training.worker)
loads only what training needs."""
