# Challenge 06-biggest-twin: one solution. `twice` maps each soname found both in
# the image's lib directories and under site-packages/nvidia to the wheel copy's bytes.
BIGGEST_TWIN = max(on_runtime.twice, key=on_runtime.twice.get)
