"""The server's guards: its limits, request bodies, uploads, connections, closed routes, the log, output
images and the hardened sketchpad (README: Limits on a public server)."""
