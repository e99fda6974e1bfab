"""bootstrap.plan(): facts in, steps out; no engine needed."""

from layerlab.engine import bootstrap, rootfs
from layerlab.engine.images import ImageFacts

BOTH = ("linux/amd64", "linux/arm64")


def facts(ref, platforms=BOTH, standin=True):
    return ImageFacts(ref=ref, id="sha256:x", standin=standin, platforms=list(platforms))


def actions(p):
    return [(s.action, s.ref) for s in p.steps]


def test_fresh_offline_machine_debootstraps_then_builds_every_standin_in_order():
    p = bootstrap.plan({}, online=False, cached_rootfs=set())
    assert actions(p) == [
        ("debootstrap", "trixie-minbase"),
        ("build-standin", "debian:trixie-slim"),
        ("build-standin", "python:3.13-slim"),
        ("build-standin", "python:3.13"),
    ]
    assert p.steps[0].platforms == list(BOTH)


def test_cached_root_filesystems_skip_debootstrap():
    p = bootstrap.plan({}, online=False, cached_rootfs={"amd64", "arm64"})
    assert ("debootstrap", "trixie-minbase") not in actions(p)


def test_only_the_missing_architecture_is_debootstrapped():
    p = bootstrap.plan({}, online=False, cached_rootfs={"amd64"})
    assert p.steps[0].action == "debootstrap" and p.steps[0].platforms == ["linux/arm64"]


def test_everything_present_is_kept():
    present = {b.ref: facts(b.ref) for b in bootstrap.BASE_IMAGES}
    p = bootstrap.plan(present, online=False, cached_rootfs=set())
    assert [s.action for s in p.steps] == ["keep"] * len(bootstrap.BASE_IMAGES)
    assert p.work == []
    assert "stand-in" in p.steps[0].reason


def test_official_images_are_reported_as_official_and_kept():
    present = {b.ref: facts(b.ref, standin=False) for b in bootstrap.BASE_IMAGES}
    p = bootstrap.plan(present, online=True, cached_rootfs=set())
    assert all(s.action == "keep" and "official" in s.reason for s in p.steps)


def test_a_missing_platform_counts_as_missing():
    present = {b.ref: facts(b.ref) for b in bootstrap.BASE_IMAGES}
    present["python:3.13"] = facts("python:3.13", platforms=["linux/amd64"])
    p = bootstrap.plan(present, online=False, cached_rootfs={"amd64", "arm64"})
    assert actions(p)[-1] == ("build-standin", "python:3.13")
    assert "linux/arm64" in p.steps[-1].reason


def test_rebuilding_a_parent_rebuilds_its_children():
    present = {b.ref: facts(b.ref) for b in bootstrap.BASE_IMAGES}
    del present["debian:trixie-slim"]
    p = bootstrap.plan(present, online=False, cached_rootfs={"amd64", "arm64"})
    assert [s.action for s in p.steps] == ["build-standin"] * 3


def test_online_pulls_instead_of_building():
    p = bootstrap.plan({}, online=True, cached_rootfs=set())
    assert [s.action for s in p.steps] == ["pull"] * 3


def test_force_rebuilds_present_images():
    present = {b.ref: facts(b.ref) for b in bootstrap.BASE_IMAGES}
    p = bootstrap.plan(present, online=False, cached_rootfs={"amd64", "arm64"}, force=True)
    assert [s.action for s in p.steps] == ["build-standin"] * 3


def test_base_images_match_the_official_tags_and_debian_release():
    refs = [b.ref for b in bootstrap.BASE_IMAGES]
    assert refs == ["debian:trixie-slim", "python:3.13-slim", "python:3.13"]
    # Every stand-in's parent is built before it.
    seen = set()
    for b in bootstrap.BASE_IMAGES:
        assert b.parent is None or b.parent in seen
        assert (bootstrap.DOCKERFILES / b.dockerfile).is_file()
        seen.add(b.ref)


def test_tar_filter_drops_package_caches_and_pseudo_filesystems():
    import tarfile

    def info(name, kind=tarfile.REGTYPE):
        t = tarfile.TarInfo(name)
        t.type = kind
        return t

    assert rootfs._tar_filter(info("proc", tarfile.DIRTYPE)) is not None
    assert rootfs._tar_filter(info("proc/cpuinfo")) is None
    assert rootfs._tar_filter(info("var/cache/apt/archives/bash.deb")) is None
    assert rootfs._tar_filter(info("var/lib/apt/lists/deb.debian.org_dists_trixie_InRelease")) is None
    assert rootfs._tar_filter(info("usr/bin/bash")) is not None


def test_a_plain_bootstrap_never_plans_the_cuda_images():
    p = bootstrap.plan({}, online=False, cached_rootfs={"amd64", "arm64"})
    assert not any(s.ref.startswith("nvidia/cuda") for s in p.steps)
    assert bootstrap.family() == bootstrap.BASE_IMAGES


def test_a_module_that_needs_cuda_adds_its_three_images_for_amd64_only():
    present = {b.ref: facts(b.ref) for b in bootstrap.BASE_IMAGES}
    p = bootstrap.plan(present, online=False, cached_rootfs=set(), images=bootstrap.family(("cuda",)))
    cuda_steps = [s for s in p.steps if s.ref.startswith("nvidia/cuda")]
    assert [(s.action, s.ref.split(":")[1]) for s in cuda_steps] == [
        ("build-standin", "12.4.1-base-ubuntu22.04"),
        ("build-standin", "12.4.1-runtime-ubuntu22.04"),
        ("build-standin", "12.4.1-devel-ubuntu22.04"),
    ]
    assert all(s.platforms == ["linux/amd64"] for s in cuda_steps)
    assert not any(s.action == "debootstrap" for s in p.steps), "the CUDA images build on debian:trixie-slim"


def test_present_cuda_images_are_kept_and_a_rebuilt_parent_rebuilds_its_children():
    cuda = bootstrap.CUDA_IMAGES
    present = {b.ref: facts(b.ref, platforms=("linux/amd64",)) for b in cuda}
    assert [s.action for s in bootstrap.plan(present, False, set(), images=cuda).steps] == ["keep"] * 3
    del present[cuda[0].ref]
    assert [s.action for s in bootstrap.plan(present, False, set(), images=cuda).steps] == ["build-standin"] * 3


def test_on_the_classic_store_the_stand_ins_are_made_for_the_engines_own_platform_only(monkeypatch):
    from layerlab import engine

    both = ("linux/amd64", "linux/arm64")
    arm = engine.EngineFacts(command="docker", reachable=True, image_store="classic", host_platform="linux/arm64")
    monkeypatch.setattr(engine, "probe", lambda: arm)
    assert bootstrap.loadable(both) == ("linux/arm64",)
    monkeypatch.setattr(engine, "probe", lambda: arm.model_copy(update={"image_store": "containerd"}))
    assert bootstrap.loadable(both) == both


def waits(p):
    return {t.name: t.after for t in bootstrap.tasks(p)}


def test_the_cuda_images_build_beside_the_python_ones_and_each_debootstrap_beside_the_other():
    p = bootstrap.plan({}, online=False, cached_rootfs=set(), images=bootstrap.family(("cuda",)))
    base, runtime, devel = (b.ref for b in bootstrap.CUDA_IMAGES)
    assert waits(p) == {
        "rootfs amd64": (),
        "rootfs arm64": (),
        "debian:trixie-slim": ("rootfs amd64", "rootfs arm64"),
        "python:3.13-slim": ("debian:trixie-slim",),
        "python:3.13": ("python:3.13-slim",),
        base: ("debian:trixie-slim",),
        runtime: (base,),
        devel: (runtime,),
    }


def test_an_image_whose_parent_is_kept_waits_for_nothing():
    present = {b.ref: facts(b.ref) for b in bootstrap.BASE_IMAGES}
    p = bootstrap.plan(present, online=False, cached_rootfs=set(), images=bootstrap.family(("cuda",)))
    base = bootstrap.CUDA_IMAGES[0].ref
    assert waits(p)[base] == () and "debian:trixie-slim" not in waits(p)


def test_without_mmdebstrap_the_root_filesystem_falls_back_to_debootstrap_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither mmdebstrap nor unshare
    said: list[str] = []
    assert rootfs._mmdebstrap("arm64", tmp_path, said.append) is False
    assert "using debootstrap" in said[0] and "apt-get install mmdebstrap" in said[0]


def test_a_failing_mmdebstrap_falls_back_with_its_last_lines(monkeypatch, tmp_path):
    for tool, body in {
        "unshare": "echo 'E: a maintainer script wrote outside the root' >&2; exit 1",
        "mmdebstrap": "",
    }.items():
        (tmp_path / tool).write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    said: list[str] = []
    assert rootfs._mmdebstrap("arm64", tmp_path, said.append) is False
    assert "mmdebstrap failed (E: a maintainer script wrote outside the root): using debootstrap" in said[-1]
