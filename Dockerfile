# Moat in Debian's own nginx (bookworm), installed from the .deb this repository builds.
#
#   docker build -t moat .
#   docker run -d --name moat -p 8080:80 moat
#   curl -i 'http://127.0.0.1:8080/?q=1%27%20OR%20%271%27%3D%271'    # 403
#
# Ports: 80 (HTTP, the site). 127.0.0.1:8081 inside the container answers the HEALTHCHECK only.
# Configuration: /etc/nginx/sites-enabled/default (the site; mount your own), /etc/moat
# (main.conf = the rules, nginx-moat.conf = Moat's settings, enabled via conf.d/moat.conf).
# Logs: the access log (with Moat's verdict) to stdout, the error log (blocks) to stderr.
# README.md, section "Docker", has the details.
#
# This file stays a thin wrapper: every build step is in scripts/install-deps.sh and
# scripts/package-deb.sh, the scripts README.md and CI (scripts/test-package.sh) run.

FROM debian:bookworm AS build
ENV PATH=/root/.cargo/bin:$PATH
WORKDIR /src
# Build dependencies in their own layer: source changes do not re-run them.
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN scripts/package-deb.sh

FROM debian:bookworm
COPY --from=build /src/build/deb/libnginx-mod-http-moat_*.deb /tmp/
# apt checks the package's nginx-abi dependency against this nginx and refuses a mismatch.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        nginx curl /tmp/libnginx-mod-http-moat_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/*.deb
COPY packaging/docker/default-site.conf /etc/nginx/sites-available/default
COPY packaging/docker/health.conf /etc/nginx/conf.d/health.conf
RUN ln -s /etc/moat/nginx-moat.conf /etc/nginx/conf.d/moat.conf \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log \
 && nginx -t

EXPOSE 80
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8081/healthz || exit 1
CMD ["nginx", "-g", "daemon off;"]
