# Offline stand-in for the official redis:8: Debian trixie's redis-server
# package (8.0), with redis-cli for health checks. Like the official image it
# listens on 6379 on every interface without protected mode, works in /data,
# declares `VOLUME /data` and keeps redis's default snapshot policy (no config
# file: `save 3600 1 300 100 60 10000`), so every container that does not mount
# something on /data gets an anonymous volume of its own, as with the official
# image. Left out: the official entrypoint (it starts as root and drops to the
# redis user with gosu; this image simply runs as redis) and its build of redis.
FROM debian:trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && redis-server --version \
 && mkdir /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
EXPOSE 6379
USER redis
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
