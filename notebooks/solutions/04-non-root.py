# Challenge 04-non-root: one solution. Create the user after the RUN that needs root,
# then switch to it; the app only reads its files, so root may keep owning them.
AS_USER = """\
FROM python:3.13-slim
WORKDIR /app
COPY . .
RUN apt-get update \\
 && apt-get install -y --no-install-recommends gcc libc6-dev python3.13-dev \\
 && pip install --no-cache-dir . \\
 && apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false \\
      gcc libc6-dev python3.13-dev \\
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 app
USER 10001
CMD ["python", "serve.py"]
"""
