"""Sign an image in the course's registry with cosign and verify it, offline.

cosign (Sigstore's signer; Debian packages it) signs a manifest digest with a key
pair and stores the signature in the same repository, under the tag
`sha256-<digest>.sig`. Offline there is no Fulcio (keyless signing) and no Rekor
(the transparency log), so the key is a local file and the log is skipped
(`--tlog-upload=false` to sign, `--insecure-ignore-tlog` to verify).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pydantic import Field

from layerlab.engine import replay
from layerlab.engine.result import Replayable


class Check(Replayable):
    """One `cosign verify`: the reference it checked, with which key, and what cosign said."""

    target: str  # "signed" (the digest signed) or "unsigned" (another digest of the repository)
    key: str  # which public key: "signer's" or "another"
    ok: bool
    said: str  # cosign's last line (the error when it failed)


class Signing(Replayable):
    """Signing one image by digest and verifying it, and the checks that must fail."""

    cosign: str | None  # cosign's version, None when it is not installed
    signed: str = ""  # the reference signed (by digest)
    signature_tag: str = ""  # where the registry keeps the signature
    checks: list[Check] = Field(default_factory=list)

    def check(self, target: str, key: str = "signer's") -> Check:
        return next(c for c in self.checks if c.target == target and c.key == key)


def version() -> str | None:
    exe = shutil.which("cosign")
    if exe is None:
        return None
    out = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=30).stdout
    line = next((x for x in out.splitlines() if x.startswith("GitVersion:")), "")
    return line.split(":", 1)[1].strip() if line else "unknown"


def _cosign(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COSIGN_PASSWORD": ""}  # an unencrypted key: this is a lesson, not a release
    return subprocess.run(["cosign", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def _last(p: subprocess.CompletedProcess[str]) -> str:
    lines = [x for x in (p.stderr + p.stdout).splitlines() if x.strip()]
    return lines[-1][:200] if lines else ""


def sign_and_verify_live(ref: str, unsigned: str, folder: Path) -> Signing:
    """Make two key pairs in `folder`, sign `ref` (name@sha256:...) with the first, then verify:
    `ref` with the signer's key (passes), `ref` with the other key and `unsigned` with the signer's (both fail)."""
    v = version()
    if v is None:
        return Signing(cosign=None)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("signer", "another"):
        (folder / name).mkdir(exist_ok=True)
        _cosign(["generate-key-pair"], folder / name).check_returncode()
    _cosign(["sign", "--yes", "--key", "signer/cosign.key", "--tlog-upload=false", ref], folder).check_returncode()
    checks = []
    for target, key in (("signed", "signer's"), ("signed", "another"), ("unsigned", "signer's")):
        pub = "signer/cosign.pub" if key == "signer's" else "another/cosign.pub"
        which = ref if target == "signed" else unsigned
        p = _cosign(["verify", "--key", pub, "--insecure-ignore-tlog=true", which], folder)
        checks.append(Check(target=target, key=key, ok=p.returncode == 0, said=_last(p)))
    digest = ref.rsplit("@", 1)[-1]
    return Signing(cosign=v, signed=ref, signature_tag=digest.replace(":", "-") + ".sig", checks=checks)


sign_and_verify = replay.replayable("cosign", lambda ref, unsigned, folder: replay.stable(ref.split("@")[0]), Signing)(
    sign_and_verify_live
)
