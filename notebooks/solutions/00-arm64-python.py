# Challenge 00-arm64-python: one solution.
# `platform=` asks the engine for the foreign variant of the image (linux/arm64 on a PC); qemu runs it.
from layerlab.course.lesson import Lesson
from layerlab.engine import platforms

result = Lesson("00").run("python:3.13-slim", ["python", "--version"], platform=platforms.current().foreign)
print(result.output)
