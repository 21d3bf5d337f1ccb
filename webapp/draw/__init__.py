"""The Draw tab: its handlers, the loaded models, the corrections store and its push to the Hub, the
Look inside view."""

CANVAS = 448     # sketchpad side in pixels: 16 screen pixels per model pixel
