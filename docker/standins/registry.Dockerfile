# Offline stand-in for the official registry:2: Debian's docker-registry
# package is the same Distribution registry, packaged by Debian. It listens
# on port 5000 and keeps its blobs in /var/lib/registry, like registry:2.
FROM debian:trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends docker-registry \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/docker/registry /var/lib/registry \
 && printf '%s\n' \
      'version: 0.1' \
      'log:' \
      '  level: info' \
      'storage:' \
      '  filesystem:' \
      '    rootdirectory: /var/lib/registry' \
      '  delete:' \
      '    enabled: true' \
      'http:' \
      '  addr: :5000' \
      > /etc/docker/registry/config.yml \
 && docker-registry --version
EXPOSE 5000
ENTRYPOINT ["docker-registry"]
CMD ["serve", "/etc/docker/registry/config.yml"]
