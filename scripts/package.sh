#!/usr/bin/env bash
# Builds the Debian package tcpretry_VERSION_amd64.deb with CPack and checks it with lintian.
#
#   scripts/package.sh [OUTDIR]      the .deb goes to OUTDIR (default: build-package/)
#
# The binary is the static build (it runs on any Debian or Ubuntu release, and the package
# has no Depends on shared libraries): $TCPRETRY_STATIC when set (e.g. a build's
# tcpretry_static), else build-static/tcpretry, which scripts/build-static.sh makes when it
# is missing. It is stripped as dh_strip would. With TCPRETRY_PACKAGE_FROM=release it is a
# dynamic Release build in $TCPRETRY_PACKAGE_BUILD_DIR instead.
# The packaging itself (CPack) runs in $TCPRETRY_PACKAGE_BUILD_DIR (default
# build-package/build; an existing build directory is reused as it is, a new one is
# configured with Debian's hardening flags from dpkg-buildflags).
# lintian, when installed, must report no errors; its warnings are printed.
# Prints the path of the .deb on stdout, everything else on stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

outdir=${1:-$root/build-package}
build=${TCPRETRY_PACKAGE_BUILD_DIR:-$root/build-package/build}
from=${TCPRETRY_PACKAGE_FROM:-static}

"$root/scripts/deps.sh" build >&2

configure=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release)
case "$from" in
  release) configure+=(-DTCPRETRY_PACKAGE_BINARY=) ;;
  static)
    static=${TCPRETRY_STATIC:-$root/build-static/tcpretry}
    if [ -z "${TCPRETRY_STATIC:-}" ] && [ ! -x "$static" ]; then
      echo "package.sh: no build-static/tcpretry: scripts/build-static.sh" >&2
      "$root/scripts/build-static.sh" >/dev/null
    fi
    [ -x "$static" ] || { echo "package.sh: no static tcpretry at $static" >&2; exit 1; }
    if ldd "$static" >/dev/null 2>&1; then
      echo "package.sh: $static is not a static binary" >&2
      exit 1
    fi
    # A stripped copy, as dh_strip would make it (CPack strips only targets it built).
    mkdir -p "$build"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note \
          -o "$build/tcpretry.prebuilt" "$static"
    # cpack's "preinstall" builds the target all first: with a prebuilt binary that would be
    # a whole second build of tcpretry (minutes on a loaded machine) for nothing. package.sh
    # builds the one target the package needs (tcpretry_package_files) itself.
    configure+=(-DTCPRETRY_PACKAGE_BINARY="$build/tcpretry.prebuilt"
                -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON) ;;
  *) echo "package.sh: TCPRETRY_PACKAGE_FROM is 'release' or 'static', not '$from'" >&2; exit 2 ;;
esac
if [ ! -f "$build/CMakeCache.txt" ]; then
  # A new build directory: the product build with Debian's hardening flags (lintian checks
  # them), without the test suite.
  export CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
  export LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
  configure+=(-DTCPRETRY_BUILD_TESTS=OFF)
fi

cmake "${configure[@]}" >&2
targets=(tcpretry_package_files)
[ "$from" = release ] && targets+=(tcpretry)
cmake --build "$build" --target "${targets[@]}" -j "$(nproc)" >&2

mkdir -p "$outdir"
(cd "$build" && cpack -G DEB -B "$outdir" --config CPackConfig.cmake) >&2
rm -rf "$outdir/_CPack_Packages"
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
deb="$outdir/tcpretry_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { echo "package.sh: cpack made no $deb" >&2; ls "$outdir" >&2; exit 1; }

if command -v lintian >/dev/null; then
  echo "lintian $deb:" >&2
  # Exit status 1 on an error (or worse); warnings and infos are shown.
  # The static binary is on purpose: the package's lintian override says so.
  lintian --fail-on error --info "$deb" >&2 ||
    { echo "package.sh: lintian found errors" >&2; exit 1; }
else
  echo "package.sh: lintian is not installed; the package was not checked" >&2
fi
echo "$deb"
