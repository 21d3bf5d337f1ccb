"""The server's guards: its limits, the upload guard and the hardened sketchpad."""
