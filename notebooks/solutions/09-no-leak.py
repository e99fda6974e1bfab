# Challenge 09-no-leak: one solution. The token file is no longer copied into
# the image; BuildKit mounts it for the one RUN that needs it, at
# /run/secrets/<id>, and nothing of it reaches a layer, the history or the config.
FIXED = """\
ARG PYTHON_SLIM=python:3.13-slim
FROM ${PYTHON_SLIM}
WORKDIR /app
COPY app/ model.enc ./
RUN --mount=type=secret,id=unlock_token,required=true \\
    python3 unlock.py /run/secrets/unlock_token model.enc model.json && rm model.enc
USER 10001
CMD ["python3", "serve.py"]
"""
