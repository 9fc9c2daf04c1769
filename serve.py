"""Start the web chat: build or refresh the index if needed, then serve it.

    python serve.py [--index DIR] [--corpus DIR] [--host 127.0.0.1] [--port 7860]

Login is optional: QA_AUTH_FILE names a file of ``user:password`` lines, QA_AUTH holds
``user:pass,user2:pass2``. Both stay outside the repository.
"""
import os
import time

STARTED = time.monotonic()

# Before gradio or torch are imported: no telemetry, nothing from the hub, quiet model loads.
for name, value in (("GRADIO_ANALYTICS_ENABLED", "False"), ("HF_HUB_OFFLINE", "1"),
                    ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                    ("TOKENIZERS_PARALLELISM", "false")):
    os.environ[name] = value

if __name__ == "__main__":
    from qa.web import serve

    serve(started=STARTED)
