# Offline stand-in for the official redis:8: Debian trixie's redis-server
# package (8.0), with redis-cli for health checks. Like the official image it
# listens on 6379 on every interface without protected mode, and keeps no
# snapshot unless asked: a cache, not a database.
FROM debian:trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && redis-server --version
EXPOSE 6379
USER redis
WORKDIR /var/lib/redis
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
