"""Serve the fake Mistral embeddings API on 127.0.0.1 until Ctrl-C.

Usage: ``python -m sklearn_mistral.testing [--port N] [--latency S]``. It accepts any
non-empty bearer token and prints its base URL.
"""

import argparse
import time

from ._fake import FakeMistralAPI


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_mistral.testing",
        description=(
            "Serve the offline fake of the Mistral embeddings API on 127.0.0.1 until "
            "Ctrl-C. It accepts any bearer token. Its vectors are not mistral-embed's."
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="TCP port on 127.0.0.1, 0 for any free port (default: 0)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds added to every response (default: 0)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = _parse_args(argv)
    fake = FakeMistralAPI(api_key=None, port=args.port, latency=args.latency)
    with fake:
        print(f"Fake Mistral embeddings API at {fake.base_url} (POST {fake.base_url}/embeddings)")
        print("Any bearer token is accepted. Press Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print(f"Stopped after {len(fake.requests)} requests.")


if __name__ == "__main__":
    main()
