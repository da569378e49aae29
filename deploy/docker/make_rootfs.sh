#!/bin/sh
# Assembles the root file system of Slipway's container image from a built
# binary: the binary, every shared library it loads (as ldd resolves them on
# this machine, so the image holds the very libraries it was built and
# tested against), the dynamic loader, CA certificates (S3 and PostgreSQL
# over TLS), a passwd entry for the user it runs as, and the folders it
# writes. The Dockerfile copies the result into an image FROM scratch, so
# building it pulls nothing from a registry.
#
#   deploy/docker/make_rootfs.sh build/slipway build/image
#
# writes build/image/rootfs/ (read-only parts, owned by root in the image)
# and build/image/writable/ (folders the user 65532 writes).
set -eu
binary=$1
out=$2
[ -x "$binary" ] || { echo "make_rootfs.sh: no executable '$binary' (build it first)" >&2; exit 1; }
rm -rf "$out/rootfs" "$out/writable"
root=$out/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$binary" "$root/usr/local/bin/slipway"
strip --strip-debug "$root/usr/local/bin/slipway" 2>/dev/null || true

# Each library at the path the loader finds it at (symlinks resolved: the
# copy is the file itself), and the loader at the path the binary names.
copy() {
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}
ldd "$binary" | awk '/=> \// { print $3 } /^\t\/[^ ]*ld-linux/ { print $1 }' | sort -u |
  while read -r lib; do copy "$lib"; done
missing=$(ldd "$binary" | grep 'not found' || true)
[ -z "$missing" ] || { echo "make_rootfs.sh: unresolved libraries: $missing" >&2; exit 1; }

# Loaded at run time, not linked: glibc's DNS resolver helpers are in libc
# since 2.34; OpenMP (XGBoost) is linked. The CA bundle is Debian's.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\nslipway:x:65532:65532:slipway:/var/lib/slipway:/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nslipway:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"

# Owned by the user the image runs as (COPY --chown in the Dockerfile).
mkdir -p "$out/writable/var/lib/slipway" "$out/writable/var/cache/slipway"
echo "rootfs: $(du -sh "$root" | cut -f1) in $root ($(find "$root" -type f | wc -l) files)"
