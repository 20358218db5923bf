# shellcheck shell=bash
# Sourced by test.sh and run.sh: installs the Debian packages SockChat needs
# to build, test and run. Add new build or test dependencies to
# SOCKCHAT_PACKAGES below.

SOCKCHAT_PACKAGES=(
  meson
  ninja-build
  pkg-config
  gcc
  libglib2.0-dev
  libgtk-3-dev
  libhandy-1-dev
  libsqlite3-dev
  gettext
  clang-format
  xvfb
  xauth
  xfonts-base
  dbus-x11
  at-spi2-core
  libreadline-dev
  tshark
  valgrind
  graphviz
  locales
  fonts-wqy-zenhei
  imagemagick
  desktop-file-utils
  appstream
  iproute2
  libicu-dev
  libcrypt-dev
  libgnutls28-dev
  gnutls-bin
  libnats-dev
  nats-server
)

# Succeeds when the package is installed.
package_installed () {
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]]
}

# Runs a command as root, through sudo when we are not root already.
as_root () {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "error: need root (or sudo) to run: $*" >&2
    return 1
  fi
}

# ensure_packages [PACKAGE...]: installs whichever of the given packages
# (default: SOCKCHAT_PACKAGES) are missing. Runs apt-get update once, and only
# when something is missing.
ensure_packages () {
  local pkg
  local -a wanted missing=()
  if [[ $# -gt 0 ]]; then
    wanted=("$@")
  else
    wanted=("${SOCKCHAT_PACKAGES[@]}")
  fi
  for pkg in "${wanted[@]}"; do
    if ! package_installed "$pkg"; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  echo "Installing missing packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q "${missing[@]}"
}

# ensure_chinese_locale: the Chinese tests and screenshots need the
# zh_CN.UTF-8 locale (gettext ignores LANGUAGE under the C locale), and a
# fresh Debian machine has only C.UTF-8.
ensure_chinese_locale () {
  if locale -a 2>/dev/null | grep -qix 'zh_CN\.utf-\?8'; then
    return 0
  fi
  echo "Generating the zh_CN.UTF-8 locale"
  as_root localedef -i zh_CN -f UTF-8 zh_CN.UTF-8
}
