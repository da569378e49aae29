# Slipway's container image: the `slipway` binary and the shared libraries
# it was built with, on an empty base (FROM scratch: nothing is pulled from
# a registry). The same image runs the tracking server (the default command)
# and `slipway serve` of one model (docker run slipway serve models:/...).
#
#   make image                       # builds build/slipway, the root file
#                                    # system, then docker build -t slipway:VERSION .
#   docker run -p 5000:5000 slipway:0.1.0
#
# `make image` runs deploy/docker/make_rootfs.sh first, which fills
# build/image/ (the only part of the tree .dockerignore lets in). Python
# model flavors need a Python with mlflow, which this image has not: it
# serves the native flavors (XGBoost, Slipway's linear models).
FROM scratch
COPY build/image/rootfs/ /
COPY --chown=65532:65532 build/image/writable/ /
USER 65532:65532
WORKDIR /var/lib/slipway
ENV HOME=/var/lib/slipway
EXPOSE 5000 8080
ENTRYPOINT ["/usr/local/bin/slipway"]
CMD ["server", "--host", "0.0.0.0", "--port", "5000", "--data-dir", "/var/lib/slipway"]
