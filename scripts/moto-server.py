"""Start moto's server for the tests.

Run with Debian's interpreter and the private unpack from scripts/install-moto.sh:
    PYTHONPATH=<repo>/.cache/moto/usr/lib/python3/dist-packages /usr/bin/python3 scripts/moto-server.py [-H HOST] [-p PORT]

Why a launcher instead of `python3 -m moto.server`: bookworm's python3-awscrt 0.16 (pulled in by e.g. awscli)
lacks crc64nvme, and moto >= 5.1 then answers 500 on CompleteMultipartUpload without a checksum algorithm.
The CRT must therefore be switched off before moto is imported.
"""

import argparse
import logging
import os
import sys

# botocore's own opt-out: makes botocore.compat.HAS_CRT False for everything imported after this line.
os.environ["BOTO_DISABLE_CRT"] = "true"

import moto  # noqa: E402
import moto.s3.utils  # noqa: E402

# moto 5.2.x keeps its own flag (5.1.x reads botocore's); set it wherever it exists.
moto.s3.utils.HAS_CRT = False  # type: ignore[attr-defined]
try:
    import botocore.compat
    import botocore.httpchecksum

    botocore.compat.HAS_CRT = False
    botocore.httpchecksum.HAS_CRT = False  # type: ignore[attr-defined]
except ImportError:
    pass

from moto.server import main  # noqa: E402


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    if os.environ.get("MOTO_LOG_REQUESTS") != "1":
        # One access-log line per request is noise in test output and costs time on multi-GiB uploads.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sys.stderr.write(f"moto {moto.__version__} on {args.host}:{args.port}\n")
    sys.stderr.flush()
    main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    run()
