# Challenge 05-arm64-digest: one solution. The index lists one entry per platform;
# an arm64 client picks the entry whose platform says arm64 (attestations say unknown).
ARM64_DIGEST = next(
    m["digest"] for m in ix.raw["manifests"]
    if m["platform"]["os"] == "linux" and m["platform"]["architecture"] == "arm64"
)
