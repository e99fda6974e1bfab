"""Turn a locked file back into its plain text with the unlock token: the build step that needs a secret.

    python unlock.py TOKEN_FILE LOCKED PLAIN     (TOKEN_FILE "-": the token is in $UNLOCK_TOKEN)

The lock is layerlab's (SHA-256 in counter mode, checked by an HMAC): a wrong
token stops the build instead of shipping garbage.
"""

import hashlib
import hmac
import os
import sys
from pathlib import Path


def keystream(token: bytes, nonce: bytes, n: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(token + nonce + counter.to_bytes(8, "big")).digest()
        counter += 1
    return out[:n]


def main(token_file: str, locked: str, plain: str) -> None:
    token = (os.environ["UNLOCK_TOKEN"] if token_file == "-" else Path(token_file).read_text()).strip().encode()
    data = Path(locked).read_bytes()
    nonce, tag, body = data[6:22], data[22:54], data[54:]
    if not data.startswith(b"LLOCK1") or not hmac.compare_digest(tag, hmac.new(token, nonce + body, hashlib.sha256).digest()):
        sys.exit(f"{locked}: wrong token or not a locked file")
    Path(plain).write_bytes(bytes(a ^ b for a, b in zip(body, keystream(token, nonce, len(body)))))


if __name__ == "__main__":
    main(*sys.argv[1:4])
