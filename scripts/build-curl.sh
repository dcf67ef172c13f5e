#!/bin/sh
# Builds the minimal static libcurl that skbuild and skrun-fetch link when it
# is there (Makefile: CURL_MIN). Debian's libcurl4 loads about 40 shared
# libraries at every start (LDAP, Kerberos, RTMP, SSH, GnuTLS, IDN, PSL,
# brotli, zstd...): measured, 6-7 ms of CPU per process before main(), against
# 1.7 ms for this build. It keeps what a registry client needs: HTTP and
# HTTPS (OpenSSL), HTTP/2 (nghttp2), proxies (HTTP CONNECT, HTTPS_PROXY,
# NO_PROXY), Basic and Bearer auth, gzip, IPv6, the threaded resolver.
#
# The source is Debian's own curl (bookworm, with its patches), fetched with
# `apt-get source` through a private apt state, so the machine's apt setup is
# not changed. Idempotent: a finished build (its stamp names the version and
# the options) is left alone.
#
#   scripts/build-curl.sh [PREFIX]     (default /var/cache/schedkit/curl-min)
set -eu

PREFIX=${1:-${CURL_MIN:-/var/cache/schedkit/curl-min}}
OPTS="--disable-shared --enable-static --with-openssl --with-nghttp2 --with-zlib \
--without-libpsl --without-libidn2 --without-zstd --without-brotli --without-librtmp \
--without-libssh2 --without-gssapi --without-libgsasl --disable-ldap --disable-ldaps \
--disable-rtsp --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
--disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-ftp --disable-file \
--disable-manual --disable-ntlm --disable-ntlm-wb --disable-kerberos-auth \
--disable-negotiate-auth --disable-aws --disable-docs --disable-alt-svc --disable-hsts \
--without-ca-bundle --with-ca-path=/etc/ssl/certs --enable-ipv6"
VERSION=$(dpkg-query -W -f='${Version}' libcurl4-openssl-dev 2>/dev/null || true)
STAMP="$VERSION $OPTS"

if [ -f "$PREFIX/lib/libcurl.a" ] && [ "$(cat "$PREFIX/.stamp" 2>/dev/null)" = "$STAMP" ]; then
	echo "build-curl: $PREFIX is up to date"
	exit 0
fi
[ -n "$VERSION" ] || { echo "build-curl: libcurl4-openssl-dev is not installed (make deps)" >&2; exit 1; }
for p in dpkg-source pkg-config; do
	command -v "$p" >/dev/null 2>&1 || { echo "build-curl: $p is missing (make deps)" >&2; exit 1; }
done
pkg-config --exists libnghttp2 || { echo "build-curl: libnghttp2-dev is missing (make deps)" >&2; exit 1; }

uri=$(grep -rhs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ {print $2}' | grep -v security | head -n1)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 ~ /^bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "build-curl: cannot find the bookworm archive URI in the apt sources" >&2; exit 1; }

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
chmod 755 "$w" # apt's download user reads and writes here
mkdir -p "$w/lists/partial" "$w/archives/partial"
for suite in bookworm bookworm-updates; do
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main"
done >"$w/sources.list"
sec=$(grep -rhs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ {print $2}' | grep security | head -n1)
[ -z "$sec" ] || echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $sec bookworm-security main" >>"$w/sources.list"
o="-o Dir::Etc::sourcelist=$w/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$w/lists -o Dir::Cache::archives=$w/archives -o APT::Get::List-Cleanup=0"
apt-get $o update -qq
# the version the system's headers come from, so headers and library agree
(cd "$w" && apt-get $o source -qq "curl=$VERSION" >/dev/null 2>&1 || apt-get $o source -qq curl >/dev/null)
src=$(find "$w" -maxdepth 1 -type d -name 'curl-*' | head -n1)
[ -n "$src" ] || { echo "build-curl: apt-get source curl gave no source tree" >&2; exit 1; }
echo "build-curl: building $(basename "$src") (minimal, static) into $PREFIX"
(cd "$src" && ./configure --prefix="$w/inst" $OPTS >"$w/configure.log" 2>&1) ||
	{ tail -n 20 "$w/configure.log" >&2; exit 1; }
grep -q 'HTTP2: *enabled' "$w/configure.log" ||
	{ echo "build-curl: configure did not enable HTTP/2" >&2; tail -n 30 "$w/configure.log" >&2; exit 1; }
make -C "$src/lib" -j"$(nproc)" >"$w/make.log" 2>&1 || { tail -n 20 "$w/make.log" >&2; exit 1; }
make -C "$src/lib" install >/dev/null && make -C "$src/include" install >/dev/null
rm -rf "$PREFIX.new"
mkdir -p "$PREFIX.new"
cp -r "$w/inst/lib" "$w/inst/include" "$PREFIX.new/"
echo "$STAMP" >"$PREFIX.new/.stamp"
rm -rf "$PREFIX"
mv "$PREFIX.new" "$PREFIX"
echo "build-curl: done"
