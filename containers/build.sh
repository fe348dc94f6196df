#!/usr/bin/env bash
# Build the ssbmech OCI image with podman, from a Debian 12 base image made locally.
#
#   containers/build.sh [IMAGE]        (default IMAGE: localhost/ssbmech:latest)
#
# Where no registry is reachable (this project's machines), the base image
# localhost/debian:bookworm is made first, if missing, from a minimal root file system built
# with debootstrap from Debian's mirror. Elsewhere `docker build -f containers/Dockerfile .`
# with the default base (debian:bookworm) is all that is needed.
#
# Environment: BASE_IMAGE (default localhost/debian:bookworm), DEBIAN_MIRROR, PIP_CERT (CA
# bundle for pip during the build; default: the host's), ARCHIVE (also write IMAGE as a
# docker-archive tarball there, for `apptainer build ... docker-archive://`).
# Needs root (or podman rootless set-up) and: podman buildah debootstrap uidmap
# fuse-overlayfs crun (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${1:-localhost/ssbmech:latest}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian:bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

for tool in podman buildah; do
  command -v "$tool" >/dev/null || {
    echo "build.sh: $tool missing; on Debian: apt-get install -y --no-install-recommends" \
      "podman buildah debootstrap uidmap fuse-overlayfs crun" >&2
    exit 2
  }
done

if [[ $BASE_IMAGE == localhost/* ]] && ! podman image exists "$BASE_IMAGE"; then
  command -v debootstrap >/dev/null || { echo "build.sh: debootstrap missing" >&2; exit 2; }
  rootfs=$(mktemp -d /var/tmp/ssbmech-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "build.sh: base image $BASE_IMAGE missing: debootstrap --variant=minbase bookworm"
  SECONDS=0
  debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null
  echo "build.sh: base image $BASE_IMAGE ready (${SECONDS} s)"
fi

echo "build.sh: podman build $IMAGE from $BASE_IMAGE"
SECONDS=0
# --isolation=chroot: the default OCI runtime cannot create cgroups in some sandboxes (and it
# does not matter for a build); --network=host: apt and pip reach their registries directly.
# The host's CA bundle goes to pip as a build secret (needed behind TLS-intercepting proxies;
# not stored in the image).
secret=()
ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[[ -s $ca ]] && secret=(--secret "id=pip_cert,src=$ca")
podman build --isolation=chroot --network=host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  "${secret[@]}" -t "$IMAGE" -f containers/Dockerfile .
echo "build.sh: built $IMAGE in ${SECONDS} s, size $(podman image inspect "$IMAGE" \
  --format '{{.Size}}' | awk '{printf "%.2f GB", $1 / 1e9}')"

if [[ -n ${ARCHIVE:-} ]]; then
  podman save --format docker-archive -o "$ARCHIVE" "$IMAGE"
  echo "build.sh: wrote $ARCHIVE (apptainer build ssbmech.sif docker-archive://$ARCHIVE)"
fi
